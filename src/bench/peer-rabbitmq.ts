import fs from 'node:fs';
import path from 'node:path';
import { freePort } from './free-port.js';
import { AMQP_PREFETCH } from './client-amqp.js';
import type { Peer } from './peers.js';

/**
 * RabbitMQ as a durable peer: a private node of the installed server, on its own ports, data
 * directory and epmd, so the machine's shared node (5672, epmd 4369) is never touched.
 */

/** The server's start script itself: Debian's /usr/sbin wrapper would switch to the rabbitmq user. */
export const RABBITMQ_SERVER =
  process.env.MENSAGEIRO_BENCH_RABBITMQ_SERVER ?? '/usr/lib/rabbitmq/bin/rabbitmq-server';
const EPMD = process.env.MENSAGEIRO_BENCH_EPMD ?? '/usr/bin/epmd';

/** The RabbitMQ and Erlang/OTP versions, read from the installation's directories. */
function installedVersions(): string {
  const lib = path.resolve(path.dirname(RABBITMQ_SERVER), '../lib');
  const rabbit = fs
    .readdirSync(lib)
    .find((name) => name.startsWith('rabbitmq_server-'))
    ?.slice('rabbitmq_server-'.length);
  let otp = '?';
  try {
    const releases = path.resolve(path.dirname(fs.realpathSync(EPMD)), '../../releases');
    const release = fs.readdirSync(releases).find((name) => /^\d+$/.test(name));
    if (release) otp = fs.readFileSync(path.join(releases, release, 'OTP_VERSION'), 'utf8').trim();
  } catch {
    // The version is only reported.
  }
  return `RabbitMQ ${rabbit ?? '?'}, Erlang/OTP ${otp}`;
}

export function rabbitmqPeer(pkg: (name: string) => string): Peer {
  const missing = [RABBITMQ_SERVER, EPMD].find((file) => !fs.existsSync(file));
  return {
    name: 'rabbitmq',
    protocol: 'amqp',
    version: missing ? 'not installed' : `${installedVersions()}; amqplib ${pkg('amqplib')}`,
    config:
      'a durable classic queue per user, persistent messages, publisher confirms (a confirm once the ' +
      'message is fsynced, or consumed and acked), manual consumer acks (one multiple ack a turn), ' +
      `prefetch ${AMQP_PREFETCH}; a private node with its own epmd`,
    unavailable: missing ? `${missing} not found` : undefined,
    // The load's clients each declare and consume their own queue; groups are not measured.
    skips: ['W3', 'W4'],
    async start(port, dir) {
      const distPort = await freePort();
      const epmdPort = await freePort();
      fs.writeFileSync(path.join(dir, 'rabbitmq.conf'), `listeners.tcp.1 = 127.0.0.1:${port}\n`);
      // No plugins: the machine's enabled_plugins could open the management port of the shared node.
      fs.writeFileSync(path.join(dir, 'enabled_plugins'), '[].\n');
      // Read instead of /etc/rabbitmq/rabbitmq-env.conf, which names the shared node.
      fs.writeFileSync(path.join(dir, 'rabbitmq-env.conf'), '');
      return {
        command: [RABBITMQ_SERVER],
        env: {
          // The node's name must stay the same across a restart on this data: its files are under it.
          RABBITMQ_NODENAME: `${path.basename(dir)}@localhost`,
          RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
          RABBITMQ_NODE_PORT: String(port),
          RABBITMQ_DIST_PORT: String(distPort),
          RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
          ERL_EPMD_PORT: String(epmdPort),
          ERL_EPMD_ADDRESS: '127.0.0.1',
          RABBITMQ_CONF_ENV_FILE: path.join(dir, 'rabbitmq-env.conf'),
          RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
          RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
          RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
          RABBITMQ_LOG_BASE: path.join(dir, 'log'),
          RABBITMQ_PID_FILE: path.join(dir, 'rabbitmq.pid'),
          // Erlang's cookie file goes to $HOME.
          HOME: dir,
        },
        helpers: [{ command: [EPMD, '-port', String(epmdPort), '-address', '127.0.0.1'], port: epmdPort }],
      };
    },
  };
}
