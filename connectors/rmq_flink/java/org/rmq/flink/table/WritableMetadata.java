package org.rmq.flink.table;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.types.DataType;

/**
 * Metadata columns a sink can write ({@code col TYPE METADATA FROM 'key'}): the message's tag,
 * keys (space-separated, RocketMQ's {@code KEYS} property) and user properties.
 */
enum WritableMetadata {
    TAGS("tags", DataTypes.STRING().nullable()),
    KEYS("keys", DataTypes.STRING().nullable()),
    PROPERTIES("properties", DataTypes.MAP(DataTypes.STRING().nullable(), DataTypes.STRING().nullable())
            .nullable());

    final String key;
    final DataType type;

    WritableMetadata(String key, DataType type) {
        this.key = key;
        this.type = type;
    }

    static WritableMetadata of(String key) {
        for (WritableMetadata m : values()) {
            if (m.key.equals(key)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown writable RocketMQ metadata key '" + key + "'");
    }
}
