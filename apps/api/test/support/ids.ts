/** The task's UUID inside its Relay global id (base64 of `Task:<uuid>`). */
export function uuidOf(relayId: string): string {
  const raw = Buffer.from(relayId, 'base64').toString('utf8');
  const m = /^Task:([0-9a-f-]{36})$/.exec(raw);
  if (!m) throw new Error(`not a Task relay id: ${relayId} (${raw})`);
  return m[1]!;
}
