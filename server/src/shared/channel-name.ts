import { badInput } from './errors';

/** What a thread's channel is called: a short lowercase identifier ("sms", "whatsapp"). */
export const CHANNEL_NAME = /^[a-z0-9_-]{1,32}$/;

/** A channel name checked; none given is "sms". Bad input names `field`. */
export function checkChannel(channel: string | null | undefined, field = 'channel'): string {
  if (channel === null || channel === undefined) return 'sms';
  if (!CHANNEL_NAME.test(channel)) throw badInput(`${field}: 1 to 32 lowercase letters, digits, _ and -`, { field });
  return channel;
}
