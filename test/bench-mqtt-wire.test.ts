import fc from 'fast-check';
import mqtt from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { splitAt } from './helpers/chunks.js';
import { MqttReader, PACKET, decodePublish, encodePuback, encodePublish } from '../src/bench/mqtt-wire.js';

// The bench's own MQTT hot path, checked against mqtt-packet, the reference it replaces.

const topic = fc
  .string({ minLength: 1, maxLength: 300 })
  .filter((t) => !t.includes('#') && !t.includes('+') && !t.includes(String.fromCharCode(0)));
const messageId = fc.integer({ min: 1, max: 65535 });
const payload = fc.string({ maxLength: 20_000, unit: 'grapheme' });

describe('bench MQTT wire', () => {
  it('writes PUBLISH and PUBACK byte for byte as mqtt-packet does', () => {
    fc.assert(
      fc.property(topic, messageId, payload, (t, id, p) => {
        const reference = mqtt.generate({
          cmd: 'publish',
          topic: t,
          payload: Buffer.from(p),
          qos: 1,
          messageId: id,
          retain: false,
          dup: false,
        });
        expect(encodePublish(t, id, p).equals(reference)).toBe(true);
        expect(encodePuback(id).equals(mqtt.generate({ cmd: 'puback', messageId: id }))).toBe(true);
      }),
    );
  });

  it('reads what mqtt-packet writes, however the stream is cut', () => {
    const packet = fc.oneof(
      fc.record({
        cmd: fc.constant('publish' as const),
        topic,
        messageId,
        payload,
        qos: fc.constantFrom(0, 1),
      }),
      fc.record({ cmd: fc.constant('puback' as const), messageId }),
    );
    fc.assert(
      fc.property(
        fc.array(packet, { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (packets, cuts) => {
          const wire = Buffer.concat(
            packets.map((p) =>
              p.cmd === 'publish'
                ? mqtt.generate({
                    cmd: 'publish',
                    topic: p.topic,
                    payload: Buffer.from(p.payload),
                    qos: p.qos as 0 | 1,
                    messageId: p.qos ? p.messageId : undefined,
                    retain: false,
                    dup: false,
                  } as mqtt.IPublishPacket)
                : mqtt.generate({ cmd: 'puback', messageId: p.messageId }),
            ),
          );
          const reader = new MqttReader();
          const read = splitAt(wire, cuts).flatMap((chunk) => [...reader.push(chunk)]);
          expect(read).toHaveLength(packets.length);
          read.forEach((raw, i) => {
            const p = packets[i]!;
            if (p.cmd === 'puback') {
              expect(raw.type).toBe(PACKET.puback);
              expect(raw.body.readUInt16BE(0)).toBe(p.messageId);
              return;
            }
            expect(raw.type).toBe(PACKET.publish);
            const decoded = decodePublish(raw);
            expect(decoded.topic).toBe(p.topic);
            expect(decoded.messageId).toBe(p.qos ? p.messageId : 0);
            expect(decoded.payload.toString()).toBe(p.payload);
          });
        },
      ),
    );
  });

  it('rejects a remaining length longer than four bytes instead of waiting forever', () => {
    const reader = new MqttReader();
    expect(() => [...reader.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))]).toThrow(
      /remaining length/,
    );
  });
});
