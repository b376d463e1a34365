package org.rmq.flink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.flink.api.connector.sink2.CommittingSinkWriter;

/**
 * Sends each element as one message, synchronously, round-robin over the topic's writable
 * queues (retrying another queue, after a route refresh, up to {@code retries} times).
 * At-least-once: a message is stored before {@code write} returns, so every checkpoint covers
 * what it acknowledged. Exactly-once: messages are sent as half (prepared) messages and
 * returned by {@link #prepareCommit()} at the checkpoint barrier; the committer makes them
 * visible once the checkpoint completes. Halves of an attempt that failed before its checkpoint
 * completed are never committed; the broker discards them after its transaction checks.
 */
final class RocketMQSinkWriter<IN> implements CommittingSinkWriter<IN, TransactionCommittable> {
    private static final int TRANSACTION_PREPARED = 0x4;
    private static final AtomicLong COUNTER = new AtomicLong();

    private final RocketMQSinkConfig config;
    private final RocketMQRecordSerializer<IN> serializer;
    private final RocketMQClient client;
    private final List<TransactionCommittable> pending = new ArrayList<>();
    private final String idPrefix = UUID.randomUUID().toString().replace("-", "").substring(0, 16)
            .toUpperCase();
    private RocketMQClient.Route route;
    private int next;

    RocketMQSinkWriter(RocketMQSinkConfig config, RocketMQRecordSerializer<IN> serializer) throws IOException {
        this.config = config;
        this.serializer = serializer;
        this.client = new RocketMQClient(config.namesrv, config.timeoutMs);
        refreshRoute();
        next = (int) (Math.random() * Math.max(1, route.writeQueues.size()));
    }

    private void refreshRoute() throws IOException {
        try {
            route = client.route(config.topic);
        } catch (IOException e) {
            throw new IOException("RocketMQ sink: " + e.getMessage(), e);
        }
        if (route.writeQueues.isEmpty()) {
            throw new IOException("RocketMQ sink: topic '" + config.topic + "' has no writable queue");
        }
    }

    @Override
    public void write(IN element, Context context) throws IOException {
        OutgoingMessage message;
        try {
            message = serializer.serialize(element);
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("RocketMQ sink: serializing " + element + " failed: " + e.getMessage(), e);
        }
        if (message == null) {
            throw new IOException("RocketMQ sink: the serializer returned null for " + element);
        }
        IOException last = null;
        for (int attempt = 0; attempt <= config.retries; attempt++) {
            RocketMQClient.QueueInfo q = route.writeQueues.get(Math.floorMod(next++, route.writeQueues.size()));
            String addr = route.brokerAddrs.get(q.brokerName);
            try {
                send(q, addr, message);
                return;
            } catch (IOException e) {
                last = e;
                try {
                    refreshRoute();
                } catch (IOException ignored) {
                    // keep the old route; the next attempt reports the failure
                }
            }
        }
        throw new IOException("RocketMQ sink: sending to topic '" + config.topic + "' failed after "
                + (config.retries + 1) + " attempts: " + last.getMessage(), last);
    }

    private void send(RocketMQClient.QueueInfo q, String addr, OutgoingMessage message) throws IOException {
        byte[] body = message.body;
        Map<String, String> props = new LinkedHashMap<>(message.properties);
        String uniq = idPrefix + String.format("%016X", COUNTER.incrementAndGet());
        props.put("UNIQ_KEY", uniq);
        props.put("WAIT", "true");
        String tag = message.tag != null ? message.tag : config.tag;
        if (tag != null && !tag.isEmpty()) {
            props.put("TAGS", tag);
        }
        if (message.keys != null && !message.keys.isEmpty()) {
            props.put("KEYS", message.keys);
        }
        if (!config.exactlyOnce) {
            client.send(addr, config.producerGroup, config.topic, q.queueId, body, props, 0);
            return;
        }
        props.put("TRAN_MSG", "true");
        props.put("PGROUP", config.producerGroup);
        props.put("CHECK_IMMUNITY_TIME_IN_SECONDS", Long.toString(config.transactionTimeoutSeconds));
        RocketMQClient.SendResult result = client.send(addr, config.producerGroup, config.topic, q.queueId,
                body, props, TRANSACTION_PREPARED);
        pending.add(new TransactionCommittable(config.producerGroup, config.topic, q.brokerName, addr,
                result.queueOffset, RocketMQClient.commitLogOffset(result.offsetMsgId), uniq));
    }

    @Override
    public void flush(boolean endOfInput) {
        // sends are synchronous: everything written is already stored
    }

    @Override
    public Collection<TransactionCommittable> prepareCommit() {
        List<TransactionCommittable> out = new ArrayList<>(pending);
        pending.clear();
        return out;
    }

    @Override
    public void close() {
        client.close();
    }
}
