package org.rmq.flink;

import java.io.IOException;

import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * One half (prepared) message waiting for its checkpoint to complete: what END_TRANSACTION needs
 * to commit it (reference §2.3): producer group, topic, broker, the half-queue offset
 * ({@code tranStateTableOffset}), the commit-log offset and the message's UNIQ_KEY.
 */
final class TransactionCommittable {
    final String producerGroup;
    final String topic;
    final String brokerName;
    final String brokerAddr;
    final long tranStateTableOffset;
    final long commitLogOffset;
    final String msgId;

    TransactionCommittable(String producerGroup, String topic, String brokerName, String brokerAddr,
            long tranStateTableOffset, long commitLogOffset, String msgId) {
        this.producerGroup = producerGroup;
        this.topic = topic;
        this.brokerName = brokerName;
        this.brokerAddr = brokerAddr;
        this.tranStateTableOffset = tranStateTableOffset;
        this.commitLogOffset = commitLogOffset;
        this.msgId = msgId;
    }

    @Override
    public String toString() {
        return "transaction " + msgId + " on " + brokerName + " (" + topic + ")";
    }

    /** Version 1: the seven fields in declaration order (UTF strings, longs). */
    static final class Serializer implements SimpleVersionedSerializer<TransactionCommittable> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(TransactionCommittable c) throws IOException {
            DataOutputSerializer out = new DataOutputSerializer(128);
            out.writeUTF(c.producerGroup);
            out.writeUTF(c.topic);
            out.writeUTF(c.brokerName);
            out.writeUTF(c.brokerAddr);
            out.writeLong(c.tranStateTableOffset);
            out.writeLong(c.commitLogOffset);
            out.writeUTF(c.msgId);
            return out.getCopyOfBuffer();
        }

        @Override
        public TransactionCommittable deserialize(int version, byte[] bytes) throws IOException {
            if (version != 1) {
                throw new IOException("unknown RocketMQ committable version " + version);
            }
            DataInputDeserializer in = new DataInputDeserializer(bytes);
            return new TransactionCommittable(in.readUTF(), in.readUTF(), in.readUTF(), in.readUTF(),
                    in.readLong(), in.readLong(), in.readUTF());
        }
    }
}
