package org.rmq.flink;

import java.io.Serializable;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.util.Collector;

/**
 * Turns one message read by the source into zero or more elements. Unlike a
 * {@link DeserializationSchema}, it sees the whole message (topic, broker, queue, offset,
 * properties, timestamps), which the Table API connector uses for metadata columns.
 * {@link #valueOnly(DeserializationSchema)} adapts a schema that reads only the body.
 */
public interface RocketMQRecordDeserializer<T> extends Serializable, ResultTypeQueryable<T> {

    /** Called once per source reader before the first message. */
    default void open(DeserializationSchema.InitializationContext context) throws Exception {
    }

    /**
     * Emits the elements of {@code record}, read from the queue of broker {@code brokerName}.
     * Throwing fails the job with the message's position in the error.
     */
    void deserialize(RocketMQRecord record, String brokerName, Collector<T> out) throws Exception;

    /** A deserializer that hands each message body to {@code schema}. */
    static <T> RocketMQRecordDeserializer<T> valueOnly(DeserializationSchema<T> schema) {
        return new ValueOnly<>(schema);
    }

    /** Adapter of a body-only {@link DeserializationSchema}. */
    final class ValueOnly<T> implements RocketMQRecordDeserializer<T> {
        private static final long serialVersionUID = 1L;

        private final DeserializationSchema<T> schema;

        ValueOnly(DeserializationSchema<T> schema) {
            this.schema = schema;
        }

        @Override
        public void open(DeserializationSchema.InitializationContext context) throws Exception {
            schema.open(context);
        }

        @Override
        public void deserialize(RocketMQRecord record, String brokerName, Collector<T> out)
                throws Exception {
            schema.deserialize(record.body, out);
        }

        @Override
        public TypeInformation<T> getProducedType() {
            return schema.getProducedType();
        }
    }
}
