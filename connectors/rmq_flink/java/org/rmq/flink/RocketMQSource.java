package org.rmq.flink;

import java.util.ArrayList;
import java.util.List;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * A FLIP-27 source reading RocketMQ queues over the remoting protocol. Splits are queues;
 * their offsets are the reader state in Flink's checkpoints, so after a failover every message
 * is emitted exactly once into Flink's state (exactly-once end to end needs an exactly-once sink).
 * Bounded when stopping offsets are set. Build it with {@link #builder()}.
 */
public final class RocketMQSource<T>
        implements Source<T, RocketMQSplit, EnumeratorState>, ResultTypeQueryable<T> {
    private static final long serialVersionUID = 1L;

    private final RocketMQSourceConfig config;
    private final RocketMQRecordDeserializer<T> deserializer;

    RocketMQSource(RocketMQSourceConfig config, RocketMQRecordDeserializer<T> deserializer) {
        this.config = config;
        this.deserializer = deserializer;
    }

    public static <T> Builder<T> builder() {
        return new Builder<>();
    }

    @Override
    public Boundedness getBoundedness() {
        return config.stopping == null ? Boundedness.CONTINUOUS_UNBOUNDED : Boundedness.BOUNDED;
    }

    @Override
    public SplitEnumerator<RocketMQSplit, EnumeratorState> createEnumerator(
            SplitEnumeratorContext<RocketMQSplit> context) {
        return new RocketMQEnumerator(context, config, null);
    }

    @Override
    public SplitEnumerator<RocketMQSplit, EnumeratorState> restoreEnumerator(
            SplitEnumeratorContext<RocketMQSplit> context, EnumeratorState state) {
        return new RocketMQEnumerator(context, config, state);
    }

    @Override
    public SimpleVersionedSerializer<RocketMQSplit> getSplitSerializer() {
        return new RocketMQSplit.Serializer();
    }

    @Override
    public SimpleVersionedSerializer<EnumeratorState> getEnumeratorCheckpointSerializer() {
        return new EnumeratorState.Serializer();
    }

    @Override
    public SourceReader<T, RocketMQSplit> createReader(SourceReaderContext context) {
        return new RocketMQSourceReader<>(config, deserializer, context);
    }

    @Override
    public TypeInformation<T> getProducedType() {
        return deserializer.getProducedType();
    }

    /**
     * Builder; {@link #build()} checks that the NameServer, topics, group and deserializer are
     * set. Times are milliseconds.
     */
    public static final class Builder<T> {
        private String namesrv;
        private final List<String> topics = new ArrayList<>();
        private String group;
        private OffsetSpec starting = OffsetSpec.committed(OffsetSpec.earliest());
        private OffsetSpec stopping;
        private String filterExpression = "*";
        private String filterType = "TAG";
        private int batchSize = 32;
        private long pollIntervalMs = 100;
        private long timeoutMs = 3000;
        private boolean commitOffsets;
        private RocketMQRecordDeserializer<T> deserializer;

        public Builder<T> setNamesrv(String namesrv) {
            this.namesrv = namesrv;
            return this;
        }

        public Builder<T> addTopic(String topic) {
            this.topics.add(topic);
            return this;
        }

        public Builder<T> setGroup(String group) {
            this.group = group;
            return this;
        }

        public Builder<T> setStartingOffsets(OffsetSpec spec) {
            this.starting = spec;
            return this;
        }

        public Builder<T> setBounded(OffsetSpec stopping) {
            this.stopping = stopping;
            return this;
        }

        public Builder<T> setFilter(String type, String expression) {
            if (!"TAG".equals(type) && !"SQL92".equals(type)) {
                throw new IllegalArgumentException("filter type must be TAG or SQL92, got " + type);
            }
            this.filterType = type;
            this.filterExpression = expression;
            return this;
        }

        public Builder<T> setBatchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        public Builder<T> setPollIntervalMs(long pollIntervalMs) {
            this.pollIntervalMs = pollIntervalMs;
            return this;
        }

        public Builder<T> setTimeoutMs(long timeoutMs) {
            this.timeoutMs = timeoutMs;
            return this;
        }

        public Builder<T> setCommitOffsetsOnCheckpoint(boolean commit) {
            this.commitOffsets = commit;
            return this;
        }

        /** Deserializes each message body with {@code deserializer}. */
        public Builder<T> setDeserializer(DeserializationSchema<T> deserializer) {
            this.deserializer = deserializer == null ? null : RocketMQRecordDeserializer.valueOnly(deserializer);
            return this;
        }

        /** Deserializes each whole message (body, properties, position) with {@code deserializer}. */
        public Builder<T> setRecordDeserializer(RocketMQRecordDeserializer<T> deserializer) {
            this.deserializer = deserializer;
            return this;
        }

        public RocketMQSource<T> build() {
            require(namesrv != null && !namesrv.trim().isEmpty(), "namesrv");
            require(!topics.isEmpty(), "topics");
            require(group != null && !group.trim().isEmpty(), "group");
            require(deserializer != null, "value deserializer");
            require(starting != null, "starting offsets");
            if (batchSize < 1 || pollIntervalMs < 1 || timeoutMs < 1) {
                throw new IllegalArgumentException("batch size, poll interval and timeout must be positive");
            }
            RocketMQSourceConfig config = new RocketMQSourceConfig(namesrv, new ArrayList<>(topics), group,
                    starting, stopping, filterExpression, filterType, batchSize, pollIntervalMs, timeoutMs,
                    commitOffsets);
            return new RocketMQSource<>(config, deserializer);
        }

        private static void require(boolean ok, String what) {
            if (!ok) {
                throw new IllegalArgumentException("RocketMQ source: " + what + " is required");
            }
        }
    }
}
