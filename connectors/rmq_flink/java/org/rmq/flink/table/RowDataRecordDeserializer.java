package org.rmq.flink.table;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.utils.JoinedRowData;
import org.apache.flink.util.Collector;
import org.rmq.flink.RocketMQRecord;
import org.rmq.flink.RocketMQRecordDeserializer;

/**
 * Reads a message into the table's row: the format's decoder turns the body into the physical
 * columns, and the requested metadata columns are appended in the order the planner asked for.
 */
final class RowDataRecordDeserializer implements RocketMQRecordDeserializer<RowData> {
    private static final long serialVersionUID = 1L;

    private final DeserializationSchema<RowData> valueDecoder;
    private final ReadableMetadata[] metadata;
    private final TypeInformation<RowData> producedType;
    private transient AppendingCollector appending;

    RowDataRecordDeserializer(DeserializationSchema<RowData> valueDecoder, ReadableMetadata[] metadata,
            TypeInformation<RowData> producedType) {
        this.valueDecoder = valueDecoder;
        this.metadata = metadata;
        this.producedType = producedType;
    }

    @Override
    public void open(DeserializationSchema.InitializationContext context) throws Exception {
        valueDecoder.open(context);
    }

    @Override
    public void deserialize(RocketMQRecord record, String brokerName, Collector<RowData> out)
            throws Exception {
        if (metadata.length == 0) {
            valueDecoder.deserialize(record.body, out);
            return;
        }
        if (appending == null) {
            appending = new AppendingCollector();
        }
        appending.record = record;
        appending.brokerName = brokerName;
        appending.out = out;
        valueDecoder.deserialize(record.body, appending);
    }

    @Override
    public TypeInformation<RowData> getProducedType() {
        return producedType;
    }

    /** Appends the metadata of the current message to each physical row the decoder emits. */
    private final class AppendingCollector implements Collector<RowData> {
        RocketMQRecord record;
        String brokerName;
        Collector<RowData> out;

        @Override
        public void collect(RowData physical) {
            GenericRowData meta = new GenericRowData(physical.getRowKind(), metadata.length);
            for (int i = 0; i < metadata.length; i++) {
                meta.setField(i, metadata[i].converter.read(record, brokerName));
            }
            out.collect(new JoinedRowData(physical.getRowKind(), physical, meta));
        }

        @Override
        public void close() {
            // nothing buffered
        }
    }
}
