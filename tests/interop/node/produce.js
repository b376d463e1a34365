'use strict';

// Send `count` messages with ali-ons and print one JSON line per message and one summary.
// Usage: node produce.js --namesrv 127.0.0.1:9876 --topic T [--group G] [--count N]
//   [--tags TagA,TagB] [--key-prefix P] [--body-size BYTES] [--property k=v ...]
//   [--timeout SECONDS] [--send-timeout-ms MS] [--client-options '<json merged into the
//   ali-ons options>'] [--verbose] | --json '{"namesrv": ..., ...}'
// Message i gets key "<key-prefix>-<i>", tag tags[i % len] (no tag when tags is empty),
// user property seq=<i> plus every --property, and body bodyFor(key, body-size).

const { Producer, Message } = require('ali-ons');
const common = require('./common');

const SPEC = {
  namesrv: { type: 'string' },
  topic: { type: 'string' },
  group: { type: 'string' },
  count: { type: 'string' },
  tags: { type: 'string' },
  'key-prefix': { type: 'string' },
  'body-size': { type: 'string' },
  property: { type: 'string', multiple: true },
  timeout: { type: 'string' },
  'send-timeout-ms': { type: 'string' },
  'client-options': { type: 'string' },
  verbose: { type: 'boolean' },
};
const DEFAULTS = {
  group: 'rmq_interop_node_producer',
  count: 1,
  tags: '',
  'key-prefix': `node-${process.pid}`,
  'body-size': 64,
  timeout: 60,
  'send-timeout-ms': 3000,
  'client-options': '{}',
  verbose: false,
};

function buildMessage(opts, index) {
  const key = `${opts.keyPrefix}-${index}`;
  const tag = opts.tags.length ? opts.tags[index % opts.tags.length] : null;
  const body = common.bodyFor(key, opts.bodySize);
  // Message(topic, tags, body): ali-ons stores TAGS even when null (see README).
  const msg = tag === null ? new Message(opts.topic, body) : new Message(opts.topic, tag, body);
  if (tag === null) {
    delete msg.properties.TAGS;
  }
  msg.keys = [ key ];
  Object.assign(msg.properties, opts.properties, { seq: String(index) });
  return { msg, key, tag, bodySha256: common.sha256(body) };
}

async function main() {
  const values = common.parseOptions(SPEC, DEFAULTS, [ 'namesrv', 'topic' ]);
  const opts = {
    namesrv: values.namesrv,
    topic: values.topic,
    group: values.group,
    count: common.toInt('count', values.count, 0),
    tags: common.toList(values.tags),
    keyPrefix: values['key-prefix'],
    bodySize: common.toInt('body-size', values['body-size'], 0),
    properties: common.toProperties(values.property),
    timeout: common.toNumber('timeout', values.timeout, 0.1),
    sendTimeoutMs: common.toInt('send-timeout-ms', values['send-timeout-ms'], 1),
    clientOptions: common.toObject('client-options', values['client-options']),
    verbose: !!values.verbose,
  };
  const started = Date.now();
  const stats = { sent: 0, failed: 0 };
  const summary = extra => Object.assign({
    client: 'ali-ons', role: 'producer', sent: stats.sent, failed: stats.failed,
    requested: opts.count, elapsedMs: Date.now() - started,
  }, extra);
  common.startDeadline(opts.timeout, () => {
    common.finish(summary({ ok: false, error: `timeout after ${opts.timeout}s` }));
  });

  const producer = new Producer(Object.assign({
    nameSrv: opts.namesrv.split(';'),
    httpclient: {}, // only asserted to exist; nameSrv skips the HTTP address lookup
    clientIP: '127.0.0.1',
    instanceName: String(process.pid), // one client id for this producer and the inner one
    producerGroup: opts.group,
    sendMsgTimeout: opts.sendTimeoutMs,
    logger: common.makeLogger(opts.verbose),
  }, opts.clientOptions));
  producer.on('error', err => common.emit('client_error', { message: common.errorText(err) }));
  await producer.ready();
  // The consumer-side retry path uses an inner producer that shares this client's errors.
  Producer.defaultProducer.on('error', () => {});
  common.emit('started', { client: 'ali-ons', role: 'producer', clientId: producer.clientId });

  for (let index = 0; index < opts.count; index++) {
    const { msg, key, tag, bodySha256 } = buildMessage(opts, index);
    try {
      const result = await producer.send(msg);
      stats.sent++;
      common.emit('sent', {
        index, key, tag, bodySize: opts.bodySize, bodySha256,
        status: result.sendStatus, msgId: result.msgId,
        queueId: Number(result.messageQueue.queueId), queueOffset: result.queueOffset,
        brokerName: result.messageQueue.brokerName,
      });
    } catch (err) {
      stats.failed++;
      const error = common.errorText(err);
      common.emit('send_error', { index, key, error });
      common.finish(summary({ ok: false, error: `send ${index} failed: ${error}` }));
    }
  }
  common.finish(summary({ ok: stats.sent === opts.count }));
}

main().catch(err => {
  common.finish({ ok: false, client: 'ali-ons', role: 'producer', error: common.errorText(err) });
});
