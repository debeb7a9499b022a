import { useEffect, useId, useState, type FormEvent } from 'react';

/**
 * Narrows the list to the tasks whose external id starts with what is typed (on Search, or when the
 * box is cleared); the prefix is kept in the URL with the other filters.
 */
export function ExternalIdSearch({ value, onSearch }: { value: string; onSearch(prefix: string): void }) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const id = useId();

  function submit(e: FormEvent) {
    e.preventDefault();
    onSearch(text.trim());
  }

  return (
    // biome-ignore lint/a11y/useSemanticElements: <search> is not yet in every browser the console supports
    <form className="search" role="search" onSubmit={submit} aria-label="Search tasks by external id">
      <label htmlFor={`${id}-q`}>External id starts with</label>
      <div className="input-row">
        <input
          id={`${id}-q`}
          type="search"
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            if (e.target.value === '' && value !== '') onSearch('');
          }}
          placeholder="e.g. order-12"
          spellCheck={false}
          maxLength={128}
        />
        <button type="submit" className="button">
          Search
        </button>
      </div>
    </form>
  );
}
