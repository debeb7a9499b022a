/** A one-shot message carried to the next page (e.g. "task created" after the form navigates away). */
export interface Flash {
  text: string;
  taskId?: string;
}

let pending: Flash | null = null;

export function setFlash(text: string, taskId?: string): void {
  pending = { text, ...(taskId ? { taskId } : {}) };
}

export function peekFlash(): Flash | null {
  return pending;
}

export function clearFlash(): void {
  pending = null;
}
