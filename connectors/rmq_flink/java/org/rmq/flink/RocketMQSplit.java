package org.rmq.flink;

import java.io.IOException;

import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * One queue ({@code topic}, {@code brokerName}, {@code queueId}) read from {@code offset}
 * (the next logical offset to read) up to {@code stoppingOffset} exclusive
 * ({@link #UNBOUNDED} for an unbounded source). Immutable; the reader's progress is snapshotted
 * as a new split.
 */
public final class RocketMQSplit implements SourceSplit {
    public static final long UNBOUNDED = Long.MAX_VALUE;

    final String topic;
    final String brokerName;
    final int queueId;
    final long offset;
    final long stoppingOffset;

    RocketMQSplit(String topic, String brokerName, int queueId, long offset, long stoppingOffset) {
        this.topic = topic;
        this.brokerName = brokerName;
        this.queueId = queueId;
        this.offset = offset;
        this.stoppingOffset = stoppingOffset;
    }

    RocketMQSplit withOffset(long next) {
        return new RocketMQSplit(topic, brokerName, queueId, next, stoppingOffset);
    }

    @Override
    public String splitId() {
        return topic + "@" + brokerName + "@" + queueId;
    }

    @Override
    public String toString() {
        return splitId() + "[" + offset + ", " + (stoppingOffset == UNBOUNDED ? "∞" : stoppingOffset)
                + ")";
    }

    void write(DataOutputSerializer out) throws IOException {
        out.writeUTF(topic);
        out.writeUTF(brokerName);
        out.writeInt(queueId);
        out.writeLong(offset);
        out.writeLong(stoppingOffset);
    }

    static RocketMQSplit read(DataInputDeserializer in) throws IOException {
        return new RocketMQSplit(in.readUTF(), in.readUTF(), in.readInt(), in.readLong(), in.readLong());
    }

    /** Version 1: topic, broker name (UTF), queue id (int), offset, stopping offset (long). */
    static final class Serializer implements SimpleVersionedSerializer<RocketMQSplit> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(RocketMQSplit split) throws IOException {
            DataOutputSerializer out = new DataOutputSerializer(64);
            split.write(out);
            return out.getCopyOfBuffer();
        }

        @Override
        public RocketMQSplit deserialize(int version, byte[] bytes) throws IOException {
            if (version != 1) {
                throw new IOException("unknown RocketMQ split version " + version);
            }
            return read(new DataInputDeserializer(bytes));
        }
    }
}
