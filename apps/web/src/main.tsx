import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
// In this order: later sheets refine earlier ones.
import './styles/base.css';
import './styles/lists.css';
import './styles/detail-form.css';
import './styles/phones.css';

const root = document.getElementById('root');
if (!root) throw new Error('#root is missing from index.html');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
