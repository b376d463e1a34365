package org.rmq.flink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Discovers the topics' readable queues once, resolves each queue's starting (and, when bounded,
 * stopping) offset, and deals the queues out: the i-th queue in (topic, broker, queue id) order
 * goes to subtask {@code i % parallelism}. A failed discovery (unknown topic, no NameServer)
 * fails the job with that cause. Bounded sources signal "no more splits" once everything is
 * assigned, so each reader ends when its queues reach their stopping offsets.
 */
final class RocketMQEnumerator implements SplitEnumerator<RocketMQSplit, EnumeratorState> {
    private static final Logger LOG = LoggerFactory.getLogger(RocketMQEnumerator.class);

    private final SplitEnumeratorContext<RocketMQSplit> context;
    private final RocketMQSourceConfig config;
    private final Map<Integer, List<RocketMQSplit>> pending = new HashMap<>();
    private boolean discovered;

    RocketMQEnumerator(SplitEnumeratorContext<RocketMQSplit> context, RocketMQSourceConfig config,
            EnumeratorState restored) {
        this.context = context;
        this.config = config;
        if (restored != null) {
            discovered = restored.discovered;
            for (int i = 0; i < restored.pending.size(); i++) {
                int owner = restored.owners.get(i) % context.currentParallelism();
                pending.computeIfAbsent(owner, k -> new ArrayList<>())
                        .add(restored.pending.get(i));
            }
        }
    }

    @Override
    public void start() {
        if (!discovered) {
            context.callAsync(this::discover, this::onDiscovered);
        }
    }

    private List<RocketMQSplit> discover() throws IOException {
        List<RocketMQSplit> splits = new ArrayList<>();
        try (RocketMQClient client = new RocketMQClient(config.namesrv, config.timeoutMs)) {
            for (String topic : config.topics) {
                RocketMQClient.Route route = client.route(topic);
                if (route.readQueues.isEmpty()) {
                    throw new IOException("topic '" + topic + "' has no readable queue");
                }
                for (RocketMQClient.QueueInfo q : route.readQueues) {
                    String addr = route.brokerAddrs.get(q.brokerName);
                    long start = config.starting.resolve(client, addr, config.group, q);
                    long stop = RocketMQSplit.UNBOUNDED;
                    if (config.stopping != null) {
                        stop = config.stopping.resolve(client, addr, config.group, q);
                    }
                    splits.add(new RocketMQSplit(q.topic, q.brokerName, q.queueId, start, stop));
                }
            }
        }
        splits.sort(Comparator.comparing(RocketMQSplit::splitId));
        return splits;
    }

    private void onDiscovered(List<RocketMQSplit> splits, Throwable error) {
        if (error != null) {
            throw new RuntimeException("RocketMQ source: queue discovery failed: " + error.getMessage(),
                    error);
        }
        int parallelism = context.currentParallelism();
        for (int i = 0; i < splits.size(); i++) {
            pending.computeIfAbsent(i % parallelism, k -> new ArrayList<>()).add(splits.get(i));
        }
        LOG.info("RocketMQ source discovered {} queues: {}", splits.size(), splits);
        discovered = true;
        for (int reader : context.registeredReaders().keySet()) {
            assign(reader);
        }
    }

    private void assign(int reader) {
        if (!discovered) {
            return;
        }
        List<RocketMQSplit> mine = pending.remove(reader);
        if (mine != null && !mine.isEmpty()) {
            Map<Integer, List<RocketMQSplit>> assignment = new HashMap<>();
            assignment.put(reader, mine);
            context.assignSplits(new SplitsAssignment<>(assignment));
        }
        if (config.stopping != null) {
            context.signalNoMoreSplits(reader);
        }
    }

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        // splits are pushed on registration; readers never need to ask
    }

    @Override
    public void addSplitsBack(List<RocketMQSplit> splits, int subtaskId) {
        pending.computeIfAbsent(subtaskId, k -> new ArrayList<>()).addAll(splits);
        if (context.registeredReaders().containsKey(subtaskId)) {
            assign(subtaskId);
        }
    }

    @Override
    public void addReader(int subtaskId) {
        assign(subtaskId);
    }

    @Override
    public EnumeratorState snapshotState(long checkpointId) {
        List<RocketMQSplit> splits = new ArrayList<>();
        List<Integer> owners = new ArrayList<>();
        for (Map.Entry<Integer, List<RocketMQSplit>> e : pending.entrySet()) {
            for (RocketMQSplit s : e.getValue()) {
                owners.add(e.getKey());
                splits.add(s);
            }
        }
        return new EnumeratorState(discovered, splits, owners);
    }

    @Override
    public void close() {
        // the discovery client is closed after each use
    }
}
