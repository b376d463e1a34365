package org.rmq.flink;

import java.io.Serializable;

import org.apache.flink.api.common.serialization.SerializationSchema;

/**
 * Turns one element into the message the sink sends: body plus optional tag, keys and user
 * properties. {@link #valueOnly(SerializationSchema)} adapts a schema that writes only the body
 * (the sink's configured tag then applies).
 */
public interface RocketMQRecordSerializer<IN> extends Serializable {

    /** Called once per sink writer before the first element. */
    default void open(SerializationSchema.InitializationContext context) throws Exception {
    }

    /** The message for {@code element}; never {@code null}. */
    OutgoingMessage serialize(IN element) throws Exception;

    /** A serializer whose messages carry {@code schema}'s bytes as the body and nothing else. */
    static <IN> RocketMQRecordSerializer<IN> valueOnly(SerializationSchema<IN> schema) {
        return new ValueOnly<>(schema);
    }

    /** Adapter of a body-only {@link SerializationSchema}. */
    final class ValueOnly<IN> implements RocketMQRecordSerializer<IN> {
        private static final long serialVersionUID = 1L;

        private final SerializationSchema<IN> schema;

        ValueOnly(SerializationSchema<IN> schema) {
            this.schema = schema;
        }

        @Override
        public void open(SerializationSchema.InitializationContext context) throws Exception {
            schema.open(context);
        }

        @Override
        public OutgoingMessage serialize(IN element) {
            return new OutgoingMessage(schema.serialize(element), null, null, null);
        }
    }
}
