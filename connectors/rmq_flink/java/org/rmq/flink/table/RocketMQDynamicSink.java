package org.rmq.flink.table;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.connector.sink.abilities.SupportsWritingMetadata;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;
import org.rmq.flink.RocketMQSink;

/**
 * The write side of the table connector: a {@link RocketMQSink} of {@link RowData}; the format
 * encodes the physical columns into the body and metadata columns set tag, keys, properties.
 */
final class RocketMQDynamicSink implements DynamicTableSink, SupportsWritingMetadata {
    private final EncodingFormat<SerializationSchema<RowData>> format;
    private final DataType physicalType;
    private final SinkSettings settings;
    private final Integer parallelism;
    private List<String> metadataKeys = new ArrayList<>();

    RocketMQDynamicSink(EncodingFormat<SerializationSchema<RowData>> format, DataType physicalType,
            SinkSettings settings, Integer parallelism) {
        this.format = format;
        this.physicalType = physicalType;
        this.settings = settings;
        this.parallelism = parallelism;
    }

    @Override
    public ChangelogMode getChangelogMode(ChangelogMode requestedMode) {
        return format.getChangelogMode();
    }

    @Override
    public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
        SerializationSchema<RowData> encoder = format.createRuntimeEncoder(context, physicalType);
        List<LogicalType> fields = physicalType.getLogicalType().getChildren();
        RowData.FieldGetter[] getters = new RowData.FieldGetter[fields.size()];
        for (int i = 0; i < getters.length; i++) {
            getters[i] = RowData.createFieldGetter(fields.get(i), i);
        }
        int tag = position(WritableMetadata.TAGS, getters.length);
        int keys = position(WritableMetadata.KEYS, getters.length);
        int props = position(WritableMetadata.PROPERTIES, getters.length);
        RocketMQSink.Builder<RowData> builder = RocketMQSink.<RowData>builder()
                .setNamesrv(settings.namesrv).setTopic(settings.topic).setProducerGroup(settings.group)
                .setExactlyOnce(settings.guarantee == DeliveryGuarantee.EXACTLY_ONCE)
                .setRetries(settings.retries).setTimeoutMs(settings.timeoutMs)
                .setTransactionTimeoutSeconds(settings.transactionTimeoutSeconds)
                .setRecordSerializer(new RowDataRecordSerializer(encoder, getters, tag, keys, props));
        if (settings.tag != null) {
            builder.setTag(settings.tag);
        }
        return SinkV2Provider.of(builder.build(), parallelism);
    }

    private int position(WritableMetadata m, int physicalArity) {
        int i = metadataKeys.indexOf(m.key);
        return i < 0 ? -1 : physicalArity + i;
    }

    @Override
    public Map<String, DataType> listWritableMetadata() {
        Map<String, DataType> out = new LinkedHashMap<>();
        for (WritableMetadata m : WritableMetadata.values()) {
            out.put(m.key, m.type);
        }
        return out;
    }

    @Override
    public void applyWritableMetadata(List<String> keys, DataType consumedDataType) {
        for (String key : keys) {
            WritableMetadata.of(key);
        }
        this.metadataKeys = new ArrayList<>(keys);
    }

    @Override
    public DynamicTableSink copy() {
        RocketMQDynamicSink copy = new RocketMQDynamicSink(format, physicalType, settings, parallelism);
        copy.metadataKeys = new ArrayList<>(metadataKeys);
        return copy;
    }

    @Override
    public String asSummaryString() {
        return "RocketMQ(" + settings.topic + ")";
    }
}
