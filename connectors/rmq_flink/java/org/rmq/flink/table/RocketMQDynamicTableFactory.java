package org.rmq.flink.table;

import static org.rmq.flink.table.RocketMQTableOptions.GROUP;
import static org.rmq.flink.table.RocketMQTableOptions.NAMESRV;
import static org.rmq.flink.table.RocketMQTableOptions.REQUEST_TIMEOUT;
import static org.rmq.flink.table.RocketMQTableOptions.SCAN_BATCH_SIZE;
import static org.rmq.flink.table.RocketMQTableOptions.SCAN_BOUNDED_MODE;
import static org.rmq.flink.table.RocketMQTableOptions.SCAN_BOUNDED_SPECIFIC_OFFSETS;
import static org.rmq.flink.table.RocketMQTableOptions.SCAN_BOUNDED_TIMESTAMP_MILLIS;
import static org.rmq.flink.table.RocketMQTableOptions.SCAN_COMMIT_OFFSETS;
import static org.rmq.flink.table.RocketMQTableOptions.SCAN_POLL_INTERVAL;
import static org.rmq.flink.table.RocketMQTableOptions.SCAN_STARTUP_MODE;
import static org.rmq.flink.table.RocketMQTableOptions.SCAN_STARTUP_SPECIFIC_OFFSETS;
import static org.rmq.flink.table.RocketMQTableOptions.SCAN_STARTUP_TIMESTAMP_MILLIS;
import static org.rmq.flink.table.RocketMQTableOptions.SINK_DELIVERY_GUARANTEE;
import static org.rmq.flink.table.RocketMQTableOptions.SINK_RETRIES;
import static org.rmq.flink.table.RocketMQTableOptions.SINK_TAG;
import static org.rmq.flink.table.RocketMQTableOptions.SINK_TRANSACTION_TIMEOUT;
import static org.rmq.flink.table.RocketMQTableOptions.SQL_FILTER;
import static org.rmq.flink.table.RocketMQTableOptions.TAG;
import static org.rmq.flink.table.RocketMQTableOptions.TOPIC;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.SerializationFormatFactory;
import org.rmq.flink.OffsetSpec;

/**
 * {@code 'connector' = 'rocketmq'}: creates scan sources and sinks from a table's options,
 * with the body encoded by any Flink format ({@code 'format' = 'json'}, {@code 'raw'}, ...).
 * Registered in the jar's {@code META-INF/services/org.apache.flink.table.factories.Factory}.
 * A missing or inconsistent option fails planning with a {@link ValidationException} naming it.
 */
public final class RocketMQDynamicTableFactory implements DynamicTableSourceFactory, DynamicTableSinkFactory {
    public static final String IDENTIFIER = "rocketmq";

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return new HashSet<>(Arrays.asList(NAMESRV, TOPIC, GROUP, FactoryUtil.FORMAT));
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return new HashSet<>(Arrays.asList(SCAN_STARTUP_MODE, SCAN_STARTUP_TIMESTAMP_MILLIS,
                SCAN_STARTUP_SPECIFIC_OFFSETS, SCAN_BOUNDED_MODE, SCAN_BOUNDED_TIMESTAMP_MILLIS,
                SCAN_BOUNDED_SPECIFIC_OFFSETS, TAG, SQL_FILTER, SCAN_COMMIT_OFFSETS, SCAN_BATCH_SIZE,
                SCAN_POLL_INTERVAL, REQUEST_TIMEOUT, SINK_DELIVERY_GUARANTEE, SINK_TAG, SINK_RETRIES,
                SINK_TRANSACTION_TIMEOUT, FactoryUtil.SOURCE_PARALLELISM, FactoryUtil.SINK_PARALLELISM));
    }

    @Override
    public DynamicTableSource createDynamicTableSource(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        DecodingFormat<DeserializationSchema<RowData>> format =
                helper.discoverDecodingFormat(DeserializationFormatFactory.class, FactoryUtil.FORMAT);
        helper.validate();
        ReadableConfig options = helper.getOptions();
        return new RocketMQDynamicSource(format, context.getPhysicalRowDataType(), scanSettings(options),
                options.getOptional(FactoryUtil.SOURCE_PARALLELISM).orElse(null));
    }

    @Override
    public DynamicTableSink createDynamicTableSink(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        EncodingFormat<SerializationSchema<RowData>> format =
                helper.discoverEncodingFormat(SerializationFormatFactory.class, FactoryUtil.FORMAT);
        helper.validate();
        ReadableConfig options = helper.getOptions();
        return new RocketMQDynamicSink(format, context.getPhysicalRowDataType(), sinkSettings(options),
                options.getOptional(FactoryUtil.SINK_PARALLELISM).orElse(null));
    }

    // --- scan options ------------------------------------------------------------------------

    static ScanSettings scanSettings(ReadableConfig o) {
        List<String> topics = topics(o.get(TOPIC));
        String tag = o.getOptional(TAG).orElse(null);
        String sql = o.getOptional(SQL_FILTER).orElse(null);
        if (tag != null && sql != null) {
            throw invalid(SQL_FILTER, "cannot be combined with 'tag': choose one filter");
        }
        if (sql != null && sql.trim().isEmpty()) {
            throw invalid(SQL_FILTER, "is empty");
        }
        if (tag != null && tag.trim().isEmpty()) {
            throw invalid(TAG, "is empty (use '*' for every message)");
        }
        int batchSize = o.get(SCAN_BATCH_SIZE);
        long pollMs = o.get(SCAN_POLL_INTERVAL).toMillis();
        if (batchSize < 1) {
            throw invalid(SCAN_BATCH_SIZE, "must be at least 1");
        }
        if (pollMs < 1) {
            throw invalid(SCAN_POLL_INTERVAL, "must be at least 1 ms");
        }
        return new ScanSettings(nonBlank(o, NAMESRV), topics, nonBlank(o, GROUP), starting(o, topics),
                stopping(o, topics), sql != null ? "SQL92" : "TAG", sql != null ? sql : tag != null ? tag : "*",
                batchSize, pollMs, timeoutMs(o), o.get(SCAN_COMMIT_OFFSETS));
    }

    private static OffsetSpec starting(ReadableConfig o, List<String> topics) {
        RocketMQTableOptions.StartupMode mode = o.get(SCAN_STARTUP_MODE);
        only(o, SCAN_STARTUP_TIMESTAMP_MILLIS, SCAN_STARTUP_MODE, mode == RocketMQTableOptions.StartupMode.TIMESTAMP,
                "timestamp");
        only(o, SCAN_STARTUP_SPECIFIC_OFFSETS, SCAN_STARTUP_MODE,
                mode == RocketMQTableOptions.StartupMode.SPECIFIC_OFFSETS, "specific-offsets");
        switch (mode) {
            case EARLIEST:
                return OffsetSpec.earliest();
            case LATEST:
                return OffsetSpec.latest();
            case TIMESTAMP:
                return OffsetSpec.timestamp(timestamp(o, SCAN_STARTUP_TIMESTAMP_MILLIS, SCAN_STARTUP_MODE));
            case SPECIFIC_OFFSETS:
                return OffsetSpec.specific(specific(o, SCAN_STARTUP_SPECIFIC_OFFSETS, SCAN_STARTUP_MODE, topics),
                        OffsetSpec.earliest());
            default:
                return OffsetSpec.committed(OffsetSpec.earliest());
        }
    }

    private static OffsetSpec stopping(ReadableConfig o, List<String> topics) {
        RocketMQTableOptions.BoundedMode mode = o.get(SCAN_BOUNDED_MODE);
        only(o, SCAN_BOUNDED_TIMESTAMP_MILLIS, SCAN_BOUNDED_MODE, mode == RocketMQTableOptions.BoundedMode.TIMESTAMP,
                "timestamp");
        only(o, SCAN_BOUNDED_SPECIFIC_OFFSETS, SCAN_BOUNDED_MODE,
                mode == RocketMQTableOptions.BoundedMode.SPECIFIC_OFFSETS, "specific-offsets");
        switch (mode) {
            case LATEST:
                return OffsetSpec.latest();
            case TIMESTAMP:
                return OffsetSpec.timestamp(timestamp(o, SCAN_BOUNDED_TIMESTAMP_MILLIS, SCAN_BOUNDED_MODE));
            case SPECIFIC_OFFSETS:
                return OffsetSpec.specific(specific(o, SCAN_BOUNDED_SPECIFIC_OFFSETS, SCAN_BOUNDED_MODE, topics),
                        OffsetSpec.latest());
            default:
                return null;
        }
    }

    /** Refuses {@code option} unless {@code mode} has the value that uses it. */
    private static void only(ReadableConfig o, ConfigOption<?> option, ConfigOption<?> mode, boolean used,
            String value) {
        if (!used && o.getOptional(option).isPresent()) {
            throw invalid(option, "is only used when '" + mode.key() + "' is '" + value + "'");
        }
    }

    private static long timestamp(ReadableConfig o, ConfigOption<Long> option, ConfigOption<?> mode) {
        Long ms = o.getOptional(option).orElseThrow(() -> invalid(option,
                "is required when '" + mode.key() + "' is 'timestamp'"));
        if (ms < 0) {
            throw invalid(option, "must be epoch milliseconds >= 0, got " + ms);
        }
        return ms;
    }

    /**
     * Parses {@code queue:0,offset:42;topic:t,broker:b,queue:1,offset:7} into the lines of
     * {@link OffsetSpec#specific}; the topic may be left out when the table has one topic, the
     * broker ({@code *} = any) may always be left out.
     */
    static String specific(ReadableConfig o, ConfigOption<String> option, ConfigOption<?> mode,
            List<String> topics) {
        String text = o.getOptional(option).orElseThrow(() -> invalid(option,
                "is required when '" + mode.key() + "' is 'specific-offsets'"));
        StringBuilder lines = new StringBuilder();
        for (String entry : text.split(";")) {
            if (entry.trim().isEmpty()) {
                continue;
            }
            String topic = topics.size() == 1 ? topics.get(0) : null;
            String broker = "*";
            Long queue = null;
            Long offset = null;
            for (String pair : entry.split(",")) {
                String[] kv = pair.split(":", 2);
                if (kv.length != 2 || kv[1].trim().isEmpty()) {
                    throw invalid(option, "has entry '" + entry.trim() + "', not 'queue:<id>,offset:<offset>'");
                }
                String k = kv[0].trim();
                String v = kv[1].trim();
                if (k.equals("topic")) {
                    topic = v;
                } else if (k.equals("broker")) {
                    broker = v;
                } else if (k.equals("queue")) {
                    queue = number(option, entry, v);
                } else if (k.equals("offset")) {
                    offset = number(option, entry, v);
                } else {
                    throw invalid(option, "has the unknown field '" + k + "' in '" + entry.trim()
                            + "' (fields: topic, broker, queue, offset)");
                }
            }
            if (queue == null || offset == null || topic == null) {
                throw invalid(option, "has entry '" + entry.trim() + "' without "
                        + (queue == null || offset == null ? "both queue and offset"
                                : "a topic (the table has several topics)"));
            }
            if (topic.contains("\t") || broker.contains("\t") || queue > Integer.MAX_VALUE) {
                throw invalid(option, "has the malformed entry '" + entry.trim() + "'");
            }
            lines.append(topic).append('\t').append(broker).append('\t').append(queue).append('\t')
                    .append(offset).append('\n');
        }
        if (lines.length() == 0) {
            throw invalid(option, "has no entries");
        }
        return lines.toString();
    }

    private static long number(ConfigOption<?> option, String entry, String value) {
        try {
            long n = Long.parseLong(value);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw invalid(option, "has '" + value + "' in '" + entry.trim() + "', not a number >= 0");
    }

    // --- sink options ------------------------------------------------------------------------

    static SinkSettings sinkSettings(ReadableConfig o) {
        List<String> topics = topics(o.get(TOPIC));
        if (topics.size() != 1) {
            throw invalid(TOPIC, "must name exactly one topic for a sink, got " + topics);
        }
        String tag = o.getOptional(SINK_TAG).orElse(null);
        if (tag != null && tag.trim().isEmpty()) {
            throw invalid(SINK_TAG, "is empty");
        }
        int retries = o.get(SINK_RETRIES);
        if (retries < 0) {
            throw invalid(SINK_RETRIES, "must be >= 0");
        }
        long transactionSeconds = o.get(SINK_TRANSACTION_TIMEOUT).getSeconds();
        if (transactionSeconds < 1) {
            throw invalid(SINK_TRANSACTION_TIMEOUT, "must be at least 1 s");
        }
        return new SinkSettings(nonBlank(o, NAMESRV), topics.get(0), nonBlank(o, GROUP), tag,
                o.get(SINK_DELIVERY_GUARANTEE), retries, timeoutMs(o), transactionSeconds);
    }

    // --- shared --------------------------------------------------------------------------------

    private static List<String> topics(String value) {
        List<String> out = new ArrayList<>();
        for (String t : value.split(";")) {
            String topic = t.trim();
            if (topic.isEmpty()) {
                throw invalid(TOPIC, "has an empty topic name in '" + value + "'");
            }
            out.add(topic);
        }
        if (out.isEmpty()) {
            throw invalid(TOPIC, "names no topic");
        }
        return out;
    }

    private static String nonBlank(ReadableConfig o, ConfigOption<String> option) {
        String value = o.get(option);
        if (value == null || value.trim().isEmpty()) {
            throw invalid(option, "is empty");
        }
        return value.trim();
    }

    private static long timeoutMs(ReadableConfig o) {
        long ms = o.get(REQUEST_TIMEOUT).toMillis();
        if (ms < 1) {
            throw invalid(REQUEST_TIMEOUT, "must be at least 1 ms");
        }
        return ms;
    }

    private static ValidationException invalid(ConfigOption<?> option, String problem) {
        return new ValidationException("RocketMQ table option '" + option.key() + "' " + problem);
    }
}
