package org.rmq.flink.table;

import java.io.Serializable;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.data.GenericMapData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.DataType;
import org.rmq.flink.RocketMQRecord;

/**
 * Metadata columns a scan can read ({@code col TYPE METADATA FROM 'key' VIRTUAL}); each entry
 * gives the key, the type and how to take the value, in Flink's internal representation, from
 * a message read from a broker.
 */
enum ReadableMetadata {
    TOPIC("topic", DataTypes.STRING().notNull(), (r, broker) -> StringData.fromString(r.topic)),
    BROKER("broker", DataTypes.STRING().notNull(), (r, broker) -> StringData.fromString(broker)),
    QUEUE_ID("queue_id", DataTypes.INT().notNull(), (r, broker) -> r.queueId),
    OFFSET("offset", DataTypes.BIGINT().notNull(), (r, broker) -> r.queueOffset),
    MSG_ID("msg_id", DataTypes.STRING().nullable(), (r, broker) -> string(r.properties.get("UNIQ_KEY"))),
    TAGS("tags", DataTypes.STRING().nullable(), (r, broker) -> string(r.tags())),
    KEYS("keys", DataTypes.STRING().nullable(), (r, broker) -> string(r.properties.get("KEYS"))),
    PROPERTIES("properties",
            DataTypes.MAP(DataTypes.STRING().notNull(), DataTypes.STRING().notNull()).notNull(),
            (r, broker) -> properties(r.properties)),
    BORN_TIMESTAMP("born_timestamp", DataTypes.TIMESTAMP_LTZ(3).notNull(),
            (r, broker) -> TimestampData.fromEpochMillis(r.bornTimestamp)),
    STORE_TIMESTAMP("store_timestamp", DataTypes.TIMESTAMP_LTZ(3).notNull(),
            (r, broker) -> TimestampData.fromEpochMillis(r.storeTimestamp));

    /** Takes one metadata value from a message and its broker name. */
    interface Converter extends Serializable {
        Object read(RocketMQRecord record, String brokerName);
    }

    final String key;
    final DataType type;
    final Converter converter;

    ReadableMetadata(String key, DataType type, Converter converter) {
        this.key = key;
        this.type = type;
        this.converter = converter;
    }

    static ReadableMetadata of(String key) {
        for (ReadableMetadata m : values()) {
            if (m.key.equals(key)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown RocketMQ metadata key '" + key + "'");
    }

    private static StringData string(String value) {
        return value == null ? null : StringData.fromString(value);
    }

    private static GenericMapData properties(Map<String, String> props) {
        Map<StringData, StringData> out = new HashMap<>();
        for (Map.Entry<String, String> e : props.entrySet()) {
            out.put(StringData.fromString(e.getKey()), StringData.fromString(e.getValue()));
        }
        return new GenericMapData(out);
    }
}
