package org.rmq.flink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.flink.connector.base.source.reader.RecordsBySplits;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsChange;

/**
 * Pulls the assigned queues in turn on the fetcher thread. Each fetch pulls every queue once
 * (at most {@code batchSize} messages) and returns what it got; when nothing arrived it waits
 * up to the poll interval (woken early by {@link #wakeUp()}). A queue whose fetch position
 * reaches its stopping offset is reported finished. Tag filters are re-checked exactly here
 * (the broker matches tag hash codes); SQL92 filters are evaluated by the broker. A queue whose
 * next offset has been deleted fails the fetch (data loss is never silent).
 */
final class RocketMQSplitReader implements SplitReader<RocketMQRecord, RocketMQSplit> {
    private final RocketMQSourceConfig config;
    private final RocketMQClient client;
    private final Map<String, long[]> positions = new LinkedHashMap<>();
    private final Map<String, RocketMQSplit> splits = new LinkedHashMap<>();
    private final Map<String, String> brokerAddrs = new LinkedHashMap<>();
    private final Set<String> tags;
    private final Object idle = new Object();
    private boolean woken;

    RocketMQSplitReader(RocketMQSourceConfig config) {
        this.config = config;
        this.client = new RocketMQClient(config.namesrv, config.timeoutMs);
        this.tags = tagSet(config);
    }

    private static Set<String> tagSet(RocketMQSourceConfig config) {
        if (!"TAG".equals(config.filterType)) {
            return null;
        }
        Set<String> out = new HashSet<>();
        for (String tag : config.filterExpression.split("\\|\\|")) {
            if (!tag.trim().isEmpty()) {
                out.add(tag.trim());
            }
        }
        return out.contains("*") || out.isEmpty() ? null : out;
    }

    @Override
    public RecordsWithSplitIds<RocketMQRecord> fetch() throws IOException {
        RecordsBySplits.Builder<RocketMQRecord> batch = new RecordsBySplits.Builder<>();
        boolean progressed = false;
        for (String id : new ArrayList<>(splits.keySet())) {
            RocketMQSplit split = splits.get(id);
            long[] position = positions.get(id);
            if (position[0] >= split.stoppingOffset) {
                finish(batch, id);
                continue;
            }
            progressed |= pullOnce(batch, split, position);
            if (position[0] >= split.stoppingOffset) {
                finish(batch, id);
            }
        }
        if (!progressed) {
            waitIdle();
        }
        return batch.build();
    }

    private void finish(RecordsBySplits.Builder<RocketMQRecord> batch, String id) {
        batch.addFinishedSplit(id);
        splits.remove(id);
        positions.remove(id);
    }

    private boolean pullOnce(RecordsBySplits.Builder<RocketMQRecord> batch, RocketMQSplit split,
            long[] position) throws IOException {
        long offset = position[0];
        int max = (int) Math.min(config.batchSize, split.stoppingOffset - offset);
        RocketMQClient.PullResult result;
        try {
            result = client.pull(addr(split), config.group, split.topic, split.queueId, offset, max,
                    config.filterExpression, config.filterType);
        } catch (IOException e) {
            brokerAddrs.remove(split.brokerName); // ask the NameServer again next time
            throw new IOException("RocketMQ source: pull of " + split.splitId() + " at offset "
                    + offset + " failed: " + e.getMessage(), e);
        }
        switch (result.code) {
            case RocketMQClient.SUCCESS:
                for (RocketMQRecord r : result.records) {
                    if (r.queueOffset >= offset && r.queueOffset < split.stoppingOffset
                            && (tags == null || tags.contains(r.tags()))) {
                        batch.add(split.splitId(), r);
                    }
                }
                position[0] = Math.max(offset, result.nextBeginOffset);
                return true;
            case RocketMQClient.PULL_RETRY_IMMEDIATELY:
                position[0] = Math.max(offset, result.nextBeginOffset);
                return position[0] > offset;
            case RocketMQClient.PULL_OFFSET_MOVED:
                throw new IOException("RocketMQ source: offset " + offset + " of " + split.splitId()
                        + " is not available (queue holds [" + result.minOffset + ", "
                        + result.maxOffset + ")); messages were deleted or the offset is wrong");
            default: // PULL_NOT_FOUND: nothing new yet
                return false;
        }
    }

    private String addr(RocketMQSplit split) throws IOException {
        String addr = brokerAddrs.get(split.brokerName);
        if (addr == null) {
            RocketMQClient.Route route = client.route(split.topic);
            brokerAddrs.putAll(route.brokerAddrs);
            addr = brokerAddrs.get(split.brokerName);
            if (addr == null) {
                throw new IOException("broker " + split.brokerName + " of " + split.splitId()
                        + " is not in the route of " + split.topic);
            }
        }
        return addr;
    }

    private void waitIdle() {
        synchronized (idle) {
            if (!woken) {
                try {
                    idle.wait(config.pollIntervalMs);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            woken = false;
        }
    }

    @Override
    public void handleSplitsChanges(SplitsChange<RocketMQSplit> change) {
        if (!(change instanceof SplitsAddition)) {
            throw new UnsupportedOperationException("unsupported split change " + change);
        }
        for (RocketMQSplit split : change.splits()) {
            splits.put(split.splitId(), split);
            positions.put(split.splitId(), new long[] {split.offset});
        }
    }

    @Override
    public void wakeUp() {
        synchronized (idle) {
            woken = true;
            idle.notifyAll();
        }
    }

    @Override
    public void close() {
        client.close();
    }
}
