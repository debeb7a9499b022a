export {
  KieClient,
  KIE_INFINITALK_MODEL,
  type KieClientOptions,
  type KieCreateTaskRequest,
  type KieCreateTaskBody,
} from './client.js';
export { classifyKieError } from './errors.js';
export {
  parseKieCallback,
  kieStateToUnified,
  type KieTask,
  type KieCallback,
  type KieUploadedFile,
} from './schemas.js';
export { verifyKieSignature, signKieCallback, type VerifyKieSignatureInput } from './signature.js';
