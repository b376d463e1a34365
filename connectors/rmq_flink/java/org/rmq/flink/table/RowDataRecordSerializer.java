package org.rmq.flink.table;

import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.MapData;
import org.apache.flink.table.data.RowData;
import org.rmq.flink.OutgoingMessage;
import org.rmq.flink.RocketMQRecordSerializer;

/**
 * Writes a table row as a message: the physical columns (the first {@code getters.length}
 * fields) go through the format's encoder into the body; the metadata columns appended after
 * them set the tag, keys and user properties (a null value leaves that part unset).
 */
final class RowDataRecordSerializer implements RocketMQRecordSerializer<RowData> {
    private static final long serialVersionUID = 1L;

    private final SerializationSchema<RowData> valueEncoder;
    private final RowData.FieldGetter[] getters;
    private final int tagPos;
    private final int keysPos;
    private final int propertiesPos;

    /** Positions are those of the metadata columns in the consumed row, -1 when absent. */
    RowDataRecordSerializer(SerializationSchema<RowData> valueEncoder, RowData.FieldGetter[] getters,
            int tagPos, int keysPos, int propertiesPos) {
        this.valueEncoder = valueEncoder;
        this.getters = getters;
        this.tagPos = tagPos;
        this.keysPos = keysPos;
        this.propertiesPos = propertiesPos;
    }

    @Override
    public void open(SerializationSchema.InitializationContext context) throws Exception {
        valueEncoder.open(context);
    }

    @Override
    public OutgoingMessage serialize(RowData row) {
        boolean hasMetadata = row.getArity() > getters.length;
        byte[] body = valueEncoder.serialize(hasMetadata ? physical(row) : row);
        return new OutgoingMessage(body, string(row, tagPos), string(row, keysPos), properties(row));
    }

    private RowData physical(RowData row) {
        GenericRowData out = new GenericRowData(row.getRowKind(), getters.length);
        for (int i = 0; i < getters.length; i++) {
            out.setField(i, getters[i].getFieldOrNull(row));
        }
        return out;
    }

    private static String string(RowData row, int pos) {
        return pos < 0 || row.isNullAt(pos) ? null : row.getString(pos).toString();
    }

    private Map<String, String> properties(RowData row) {
        if (propertiesPos < 0 || row.isNullAt(propertiesPos)) {
            return null;
        }
        MapData map = row.getMap(propertiesPos);
        ArrayData keys = map.keyArray();
        ArrayData values = map.valueArray();
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < map.size(); i++) {
            if (!keys.isNullAt(i) && !values.isNullAt(i)) {
                out.put(keys.getString(i).toString(), values.getString(i).toString());
            }
        }
        return out;
    }
}
