package org.rmq.flink;

import java.io.IOException;
import java.io.Serializable;
import java.util.HashMap;
import java.util.Map;

/**
 * Where a queue starts or stops: the earliest or latest offset, the group's committed offset
 * (with another spec as fallback when it has none), the first offset stored at or after a
 * timestamp (epoch ms), or explicit offsets per queue (keys {@code topic@broker@queueId}, broker
 * {@code *} matching any broker; queues without an entry use the fallback).
 */
public final class OffsetSpec implements Serializable {
    private static final long serialVersionUID = 1L;

    enum Kind { EARLIEST, LATEST, COMMITTED, TIMESTAMP, SPECIFIC }

    final Kind kind;
    final long timestampMs;
    final Map<String, Long> offsets;
    final OffsetSpec fallback;

    private OffsetSpec(Kind kind, long timestampMs, Map<String, Long> offsets, OffsetSpec fallback) {
        this.kind = kind;
        this.timestampMs = timestampMs;
        this.offsets = offsets;
        this.fallback = fallback;
    }

    public static OffsetSpec earliest() {
        return new OffsetSpec(Kind.EARLIEST, 0, null, null);
    }

    public static OffsetSpec latest() {
        return new OffsetSpec(Kind.LATEST, 0, null, null);
    }

    public static OffsetSpec committed(OffsetSpec fallback) {
        return new OffsetSpec(Kind.COMMITTED, 0, null, fallback);
    }

    public static OffsetSpec timestamp(long timestampMs) {
        return new OffsetSpec(Kind.TIMESTAMP, timestampMs, null, null);
    }

    /**
     * Explicit offsets, one line per queue: {@code topic<TAB>broker<TAB>queueId<TAB>offset}
     * (broker {@code *} for any broker).
     */
    public static OffsetSpec specific(String lines, OffsetSpec fallback) {
        Map<String, Long> offsets = new HashMap<>();
        for (String line : lines.split("\n")) {
            if (line.trim().isEmpty()) {
                continue;
            }
            String[] parts = line.split("\t");
            if (parts.length != 4) {
                throw new IllegalArgumentException("offset entry must be topic, broker, queue id, "
                        + "offset; got '" + line + "'");
            }
            offsets.put(key(parts[0], parts[1], Integer.parseInt(parts[2])), Long.parseLong(parts[3]));
        }
        return new OffsetSpec(Kind.SPECIFIC, 0, offsets, fallback);
    }

    static String key(String topic, String broker, int queueId) {
        return topic + "@" + broker + "@" + queueId;
    }

    /** The offset this spec gives the queue (between its min and max offsets). */
    long resolve(RocketMQClient client, String addr, String group, RocketMQClient.QueueInfo q)
            throws IOException {
        switch (kind) {
            case EARLIEST:
                return client.minOffset(addr, q.topic, q.queueId);
            case LATEST:
                return client.maxOffset(addr, q.topic, q.queueId);
            case TIMESTAMP:
                return client.searchOffset(addr, q.topic, q.queueId, timestampMs);
            case COMMITTED: {
                long committed = client.committedOffset(addr, group, q.topic, q.queueId);
                if (committed >= 0) {
                    return committed;
                }
                return orFallback(client, addr, group, q);
            }
            default: {
                Long exact = offsets.get(key(q.topic, q.brokerName, q.queueId));
                if (exact == null) {
                    exact = offsets.get(key(q.topic, "*", q.queueId));
                }
                if (exact != null) {
                    return exact;
                }
                return orFallback(client, addr, group, q);
            }
        }
    }

    private long orFallback(RocketMQClient client, String addr, String group,
            RocketMQClient.QueueInfo q) throws IOException {
        if (fallback == null) {
            throw new IOException("no offset for queue " + q.topic + "/" + q.brokerName + "/"
                    + q.queueId + " and no fallback given");
        }
        return fallback.resolve(client, addr, group, q);
    }

    @Override
    public String toString() {
        return kind + (fallback == null ? "" : " (else " + fallback + ")");
    }
}
