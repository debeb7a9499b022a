export {
  DigitalHumanClient,
  type DigitalHumanClientOptions,
  type DigitalHumanGenerationRequest,
  type DigitalHumanGenerationBody,
  type DigitalHumanVoiceClone,
  type DigitalHumanStockVoice,
} from './client.js';
export { classifyDigitalHumanError } from './errors.js';
export { digitalHumanStatusToUnified, parseProgress, type DigitalHumanTask } from './schemas.js';
