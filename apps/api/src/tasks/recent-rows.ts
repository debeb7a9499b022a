import type { TaskRow } from '@clipwire/schema/tables';

const RECENT_ROWS = 4096;

/**
 * The rows this process last wrote, by task id and by callback token hash: a taskUpdated subscriber
 * or a callback in this process takes them instead of reading them back.
 */
export class RecentRows {
  private readonly rows = new Map<string, TaskRow>();
  /** Callback token hash → task id, for the rows in `rows`. */
  private readonly tokens = new Map<string, string>();

  /**
   * The row a change made by this process left, when `version` is still its latest here: a taskUpdated
   * subscriber in this process takes it instead of reading it back (other processes read it).
   */
  row(taskId: string, version: number): TaskRow | undefined {
    const row = this.rows.get(taskId);
    return row?.version === version ? row : undefined;
  }

  /** Keeps the row this process last wrote: oldest out first, a few thousand kept (enough for subscribers to catch up with a burst). */
  remember(task: TaskRow): void {
    this.forget(task.id);
    this.rows.set(task.id, task);
    if (task.callbackTokenHash) this.tokens.set(task.callbackTokenHash, task.id);
    if (this.rows.size > RECENT_ROWS) this.forget(this.rows.keys().next().value!);
  }

  private forget(taskId: string): void {
    const row = this.rows.get(taskId);
    if (row?.callbackTokenHash) this.tokens.delete(row.callbackTokenHash);
    this.rows.delete(taskId);
  }

  /** The latest row this process wrote for the task whose callback token has this hash, if it has it. */
  byToken(hash: string): TaskRow | null {
    const id = this.tokens.get(hash);
    const row = id === undefined ? undefined : this.rows.get(id);
    return row?.callbackTokenHash === hash ? row : null;
  }
}
