/** v1.0 JSON-RPC method names. */
export const JSON_RPC_METHODS = new Set([
  'SendMessage',
  'SendStreamingMessage',
  'GetTask',
  'ListTasks',
  'CancelTask',
  'SubscribeToTask',
  'CreateTaskPushNotificationConfig',
  'GetTaskPushNotificationConfig',
  'ListTaskPushNotificationConfigs',
  'DeleteTaskPushNotificationConfig',
  'GetExtendedAgentCard',
]);

/** v0.3 names and the v1.0 operation each one is (for metrics). */
export const LEGACY_JSON_RPC_METHODS: ReadonlyMap<string, string> = new Map([
  ['message/send', 'SendMessage'],
  ['message/stream', 'SendStreamingMessage'],
  ['tasks/get', 'GetTask'],
  ['tasks/cancel', 'CancelTask'],
  ['tasks/resubscribe', 'SubscribeToTask'],
  ['tasks/pushNotificationConfig/set', 'CreateTaskPushNotificationConfig'],
  ['tasks/pushNotificationConfig/get', 'GetTaskPushNotificationConfig'],
  ['tasks/pushNotificationConfig/list', 'ListTaskPushNotificationConfigs'],
  ['tasks/pushNotificationConfig/delete', 'DeleteTaskPushNotificationConfig'],
  ['agent/getAuthenticatedExtendedCard', 'GetExtendedAgentCard'],
]);

const MESSAGE_SENDS = new Set(['SendMessage', 'SendStreamingMessage']);

/** The v1.0 name of a method in either version, or undefined if it is neither. */
export function operationOf(method: string): string | undefined {
  return JSON_RPC_METHODS.has(method) ? method : LEGACY_JSON_RPC_METHODS.get(method);
}

/** For the message rate limit: does this JSON-RPC request send a message? */
export function isMessageSend(request: { body?: unknown }): boolean {
  const method = (request.body as { method?: unknown } | undefined)?.method;
  return typeof method === 'string' && MESSAGE_SENDS.has(operationOf(method) ?? '');
}
