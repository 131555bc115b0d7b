import { FrameBuffer } from '../dialects/frame-buffer.js';

/**
 * The load generator's MQTT 3.1.1 hot path: PUBLISH (QoS 1) and PUBACK, written and read
 * directly. mqtt-packet builds CONNECT and SUBSCRIBE, and checks these two by property test;
 * its stream parser (a BufferList, an EventEmitter and a debug call per packet) took a quarter
 * of the generator's CPU, and the generator saturated its core before Mosquitto did.
 */

export const PACKET = { connack: 2, publish: 3, puback: 4, suback: 9 } as const;

/** One packet off the wire: its type (the high nibble), flags, and the bytes after the header. */
export interface RawPacket {
  type: number;
  flags: number;
  body: Buffer;
}

function remainingLength(length: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return bytes;
}

/** A QoS 1 PUBLISH, not a retain or a duplicate. */
export function encodePublish(topic: string, messageId: number, payload: string): Buffer {
  const topicBytes = Buffer.byteLength(topic);
  const payloadBytes = Buffer.byteLength(payload);
  const length = remainingLength(2 + topicBytes + 2 + payloadBytes);
  const out = Buffer.allocUnsafe(1 + length.length + 2 + topicBytes + 2 + payloadBytes);
  let at = 0;
  out[at++] = 0x32;
  for (const byte of length) out[at++] = byte;
  out.writeUInt16BE(topicBytes, at);
  at += 2 + out.write(topic, at + 2);
  out.writeUInt16BE(messageId, at);
  out.write(payload, at + 2);
  return out;
}

export function encodePuback(messageId: number): Buffer {
  return Buffer.from([0x40, 0x02, messageId >> 8, messageId & 0xff]);
}

/** Splits a byte stream into packets. A malformed length is an error: the stream is lost. */
export class MqttReader {
  private readonly buffer = new FrameBuffer();

  *push(chunk: Buffer): Generator<RawPacket> {
    this.buffer.push(chunk);
    for (;;) {
      const first = this.buffer.byteAt(0);
      if (first < 0) return;
      let length = 0;
      let at = 1;
      for (let multiplier = 1; ; multiplier *= 128, at++) {
        if (at > 4) throw new Error('malformed MQTT remaining length');
        const byte = this.buffer.byteAt(at);
        if (byte < 0) return;
        length += (byte & 0x7f) * multiplier;
        if ((byte & 0x80) === 0) break;
      }
      if (this.buffer.length < at + 1 + length) return;
      this.buffer.skip(at + 1);
      yield { type: first >> 4, flags: first & 0x0f, body: this.buffer.take(length) };
    }
  }
}

/** A PUBLISH body: its topic, packet id (QoS 1 and 2 only) and payload. */
export function decodePublish(packet: RawPacket): { topic: string; messageId: number; payload: Buffer } {
  const qos = (packet.flags >> 1) & 0x03;
  const topicBytes = packet.body.readUInt16BE(0);
  const topic = packet.body.toString('utf8', 2, 2 + topicBytes);
  const after = 2 + topicBytes;
  if (qos === 0) return { topic, messageId: 0, payload: packet.body.subarray(after) };
  return { topic, messageId: packet.body.readUInt16BE(after), payload: packet.body.subarray(after + 2) };
}
