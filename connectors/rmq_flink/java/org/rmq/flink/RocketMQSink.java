package org.rmq.flink;

import java.io.IOException;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * A Sink V2 writing each element as one RocketMQ message. At-least-once by default; with
 * exactly-once, messages are transactional and committed when the checkpoint that covers them
 * completes (two-phase commit through Flink's committer). Build it with {@link #builder()}.
 */
public final class RocketMQSink<IN> implements Sink<IN>, SupportsCommitter<TransactionCommittable> {
    private static final long serialVersionUID = 1L;

    private final RocketMQSinkConfig config;
    private final RocketMQRecordSerializer<IN> serializer;

    RocketMQSink(RocketMQSinkConfig config, RocketMQRecordSerializer<IN> serializer) {
        this.config = config;
        this.serializer = serializer;
    }

    public static <IN> Builder<IN> builder() {
        return new Builder<>();
    }

    @Override
    public CommittingSinkWriter<IN, TransactionCommittable> createWriter(WriterInitContext context)
            throws IOException {
        try {
            serializer.open(context.asSerializationSchemaInitializationContext());
        } catch (Exception e) {
            throw new IOException("RocketMQ sink: opening the serializer failed: " + e, e);
        }
        return new RocketMQSinkWriter<>(config, serializer);
    }

    @Override
    public Committer<TransactionCommittable> createCommitter(CommitterInitContext context) {
        return new RocketMQCommitter(config);
    }

    @Override
    public SimpleVersionedSerializer<TransactionCommittable> getCommittableSerializer() {
        return new TransactionCommittable.Serializer();
    }

    /** Builder; {@link #build()} checks the required settings. Times in ms, timeout in s. */
    public static final class Builder<IN> {
        private String namesrv;
        private String topic;
        private String producerGroup;
        private String tag;
        private boolean exactlyOnce;
        private int retries = 2;
        private long timeoutMs = 3000;
        private long transactionTimeoutSeconds = 900;
        private RocketMQRecordSerializer<IN> serializer;

        public Builder<IN> setNamesrv(String namesrv) {
            this.namesrv = namesrv;
            return this;
        }

        public Builder<IN> setTopic(String topic) {
            this.topic = topic;
            return this;
        }

        public Builder<IN> setProducerGroup(String group) {
            this.producerGroup = group;
            return this;
        }

        public Builder<IN> setTag(String tag) {
            this.tag = tag;
            return this;
        }

        public Builder<IN> setExactlyOnce(boolean exactlyOnce) {
            this.exactlyOnce = exactlyOnce;
            return this;
        }

        public Builder<IN> setRetries(int retries) {
            this.retries = retries;
            return this;
        }

        public Builder<IN> setTimeoutMs(long timeoutMs) {
            this.timeoutMs = timeoutMs;
            return this;
        }

        public Builder<IN> setTransactionTimeoutSeconds(long seconds) {
            this.transactionTimeoutSeconds = seconds;
            return this;
        }

        /** Serializes each element into a message body with {@code serializer}. */
        public Builder<IN> setSerializer(SerializationSchema<IN> serializer) {
            this.serializer = serializer == null ? null : RocketMQRecordSerializer.valueOnly(serializer);
            return this;
        }

        /** Serializes each element into a whole message (body, tag, keys, properties). */
        public Builder<IN> setRecordSerializer(RocketMQRecordSerializer<IN> serializer) {
            this.serializer = serializer;
            return this;
        }

        public RocketMQSink<IN> build() {
            require(namesrv != null && !namesrv.trim().isEmpty(), "namesrv");
            require(topic != null && !topic.trim().isEmpty(), "topic");
            require(producerGroup != null && !producerGroup.trim().isEmpty(), "producer group");
            require(serializer != null, "value serializer");
            if (retries < 0 || timeoutMs < 1 || transactionTimeoutSeconds < 1) {
                throw new IllegalArgumentException("RocketMQ sink: retries must be >= 0, timeouts positive");
            }
            return new RocketMQSink<>(new RocketMQSinkConfig(namesrv, topic, producerGroup, tag, exactlyOnce,
                    retries, timeoutMs, transactionTimeoutSeconds), serializer);
        }

        private static void require(boolean ok, String what) {
            if (!ok) {
                throw new IllegalArgumentException("RocketMQ sink: " + what + " is required");
            }
        }
    }
}
