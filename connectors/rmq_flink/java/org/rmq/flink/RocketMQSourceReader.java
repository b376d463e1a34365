package org.rmq.flink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import org.apache.flink.connector.base.source.reader.SingleThreadMultiplexSourceReaderBase;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.util.Collector;
import org.apache.flink.util.UserCodeClassLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source reader of one subtask. Its checkpointed state is, per queue, the offset after the
 * last message emitted, so a restore re-reads exactly what was not yet part of the checkpoint.
 * With offset commits enabled, the offsets of a checkpoint are written to the consumer group
 * (UPDATE_CONSUMER_OFFSET) once that checkpoint completes, on a background thread; a failed
 * commit is logged and does not affect the job (the checkpoint is the source of truth).
 */
final class RocketMQSourceReader<T>
        extends SingleThreadMultiplexSourceReaderBase<RocketMQRecord, T, RocketMQSplit, RocketMQSourceReader.SplitState> {
    private static final Logger LOG = LoggerFactory.getLogger(RocketMQSourceReader.class);

    /** Mutable progress of one queue: the offset after the last emitted message. */
    static final class SplitState {
        final RocketMQSplit split;
        long offset;

        SplitState(RocketMQSplit split) {
            this.split = split;
            this.offset = split.offset;
        }
    }

    private final RocketMQSourceConfig config;
    private final RocketMQRecordDeserializer<T> deserializer;
    private final SourceReaderContext readerContext;
    private final TreeMap<Long, List<RocketMQSplit>> offsetsToCommit = new TreeMap<>();
    private ExecutorService committer;
    private RocketMQClient commitClient;

    RocketMQSourceReader(RocketMQSourceConfig config, RocketMQRecordDeserializer<T> deserializer,
            SourceReaderContext context) {
        super(() -> new RocketMQSplitReader(config), new Emitter<>(deserializer), context.getConfiguration(),
                context);
        this.config = config;
        this.deserializer = deserializer;
        this.readerContext = context;
    }

    @Override
    public void start() {
        try {
            deserializer.open(new DeserializationSchema.InitializationContext() {
                @Override
                public MetricGroup getMetricGroup() {
                    return readerContext.metricGroup().addGroup("deserializer");
                }

                @Override
                public UserCodeClassLoader getUserCodeClassLoader() {
                    return readerContext.getUserCodeClassLoader();
                }
            });
        } catch (Exception e) {
            throw new RuntimeException("RocketMQ source: opening the deserializer failed: " + e, e);
        }
        super.start();
    }

    @Override
    protected void onSplitFinished(Map<String, SplitState> finished) {
        LOG.info("RocketMQ source: finished {}", finished.keySet());
    }

    @Override
    protected SplitState initializedState(RocketMQSplit split) {
        return new SplitState(split);
    }

    @Override
    protected RocketMQSplit toSplitType(String splitId, SplitState state) {
        return state.split.withOffset(state.offset);
    }

    @Override
    public List<RocketMQSplit> snapshotState(long checkpointId) {
        List<RocketMQSplit> splits = super.snapshotState(checkpointId);
        if (config.commitOffsetsOnCheckpoint) {
            synchronized (offsetsToCommit) {
                offsetsToCommit.put(checkpointId, new ArrayList<>(splits));
            }
        }
        return splits;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        super.notifyCheckpointComplete(checkpointId);
        if (!config.commitOffsetsOnCheckpoint) {
            return;
        }
        List<RocketMQSplit> splits;
        synchronized (offsetsToCommit) {
            splits = offsetsToCommit.get(checkpointId);
            offsetsToCommit.headMap(checkpointId, true).clear();
        }
        if (splits == null || splits.isEmpty()) {
            return;
        }
        if (committer == null) {
            committer = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "rocketmq-offset-commit");
                t.setDaemon(true);
                return t;
            });
            commitClient = new RocketMQClient(config.namesrv, config.timeoutMs);
        }
        committer.execute(() -> commit(checkpointId, splits));
    }

    private void commit(long checkpointId, List<RocketMQSplit> splits) {
        Map<String, String> addrs = new TreeMap<>();
        for (RocketMQSplit split : splits) {
            try {
                String addr = addrs.get(split.brokerName);
                if (addr == null) {
                    addrs.putAll(commitClient.route(split.topic).brokerAddrs);
                    addr = addrs.get(split.brokerName);
                }
                if (addr != null) {
                    commitClient.commitOffset(addr, config.group, split.topic, split.queueId, split.offset);
                }
            } catch (IOException e) {
                LOG.warn("RocketMQ source: committing offsets of checkpoint {} for {} failed: {}",
                        checkpointId, split, e.toString());
            }
        }
    }

    @Override
    public void close() throws Exception {
        try {
            super.close();
        } finally {
            if (committer != null) {
                committer.shutdownNow();
                commitClient.close();
            }
        }
    }

    /** Deserializes a record and advances its queue's state past it. */
    static final class Emitter<T> implements RecordEmitter<RocketMQRecord, T, SplitState> {
        private final RocketMQRecordDeserializer<T> deserializer;
        private final ForwardingCollector<T> collector = new ForwardingCollector<>();

        Emitter(RocketMQRecordDeserializer<T> deserializer) {
            this.deserializer = deserializer;
        }

        @Override
        public void emitRecord(RocketMQRecord record, SourceOutput<T> output, SplitState state)
                throws Exception {
            collector.output = output;
            collector.timestamp = record.storeTimestamp;
            try {
                deserializer.deserialize(record, state.split.brokerName, collector);
            } catch (Exception e) {
                throw new IOException("RocketMQ source: the deserializer failed on the message at offset "
                        + record.queueOffset + " of " + state.split.splitId() + ": " + e, e);
            }
            state.offset = record.queueOffset + 1;
        }
    }

    private static final class ForwardingCollector<T> implements Collector<T> {
        SourceOutput<T> output;
        long timestamp;

        @Override
        public void collect(T value) {
            output.collect(value, timestamp);
        }

        @Override
        public void close() {
            // nothing buffered
        }
    }
}
