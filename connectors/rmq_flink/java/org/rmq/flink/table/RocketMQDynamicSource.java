package org.rmq.flink.table;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.connector.source.SourceProvider;
import org.apache.flink.table.connector.source.abilities.SupportsReadingMetadata;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.rmq.flink.RocketMQRecordDeserializer;
import org.rmq.flink.RocketMQSource;

/**
 * The scan side of the table connector: a {@link RocketMQSource} of {@link RowData} whose
 * records are decoded by the table's format, with metadata columns appended.
 */
final class RocketMQDynamicSource implements ScanTableSource, SupportsReadingMetadata {
    private final DecodingFormat<DeserializationSchema<RowData>> format;
    private final DataType physicalType;
    private final ScanSettings settings;
    private final Integer parallelism;
    private List<String> metadataKeys = new ArrayList<>();
    private DataType producedType;

    RocketMQDynamicSource(DecodingFormat<DeserializationSchema<RowData>> format, DataType physicalType,
            ScanSettings settings, Integer parallelism) {
        this.format = format;
        this.physicalType = physicalType;
        this.settings = settings;
        this.parallelism = parallelism;
        this.producedType = physicalType;
    }

    @Override
    public ChangelogMode getChangelogMode() {
        return format.getChangelogMode();
    }

    @Override
    public ScanRuntimeProvider getScanRuntimeProvider(ScanContext context) {
        DeserializationSchema<RowData> decoder = format.createRuntimeDecoder(context, physicalType);
        ReadableMetadata[] metadata = new ReadableMetadata[metadataKeys.size()];
        for (int i = 0; i < metadata.length; i++) {
            metadata[i] = ReadableMetadata.of(metadataKeys.get(i));
        }
        RocketMQRecordDeserializer<RowData> deserializer =
                new RowDataRecordDeserializer(decoder, metadata, context.createTypeInformation(producedType));
        RocketMQSource.Builder<RowData> builder = RocketMQSource.<RowData>builder();
        settings.applyTo(builder);
        return SourceProvider.of(builder.setRecordDeserializer(deserializer).build(), parallelism);
    }

    @Override
    public Map<String, DataType> listReadableMetadata() {
        Map<String, DataType> out = new LinkedHashMap<>();
        for (ReadableMetadata m : ReadableMetadata.values()) {
            out.put(m.key, m.type);
        }
        return out;
    }

    @Override
    public void applyReadableMetadata(List<String> keys, DataType producedDataType) {
        this.metadataKeys = new ArrayList<>(keys);
        this.producedType = producedDataType;
    }

    @Override
    public DynamicTableSource copy() {
        RocketMQDynamicSource copy = new RocketMQDynamicSource(format, physicalType, settings, parallelism);
        copy.metadataKeys = new ArrayList<>(metadataKeys);
        copy.producedType = producedType;
        return copy;
    }

    @Override
    public String asSummaryString() {
        return "RocketMQ(" + String.join(";", settings.topics) + ")";
    }
}
