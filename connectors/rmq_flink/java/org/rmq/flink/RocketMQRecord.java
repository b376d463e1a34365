package org.rmq.flink;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * One message read from a queue, decoded from the stored record layout (reference §4.1): a
 * pull response body is a run of such records. Times are epoch milliseconds.
 */
public final class RocketMQRecord implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final int MAGIC_V1 = 0xDAA320A7;
    private static final int MAGIC_V2 = 0xDAA320AB;
    private static final int COMPRESSED = 0x1;
    private static final int BORNHOST_V6 = 0x10;
    private static final int STOREHOST_V6 = 0x20;

    public final String topic;
    public final int queueId;
    public final long queueOffset;
    public final long bornTimestamp;
    public final long storeTimestamp;
    public final Map<String, String> properties;
    public final byte[] body;

    RocketMQRecord(String topic, int queueId, long queueOffset, long bornTimestamp,
            long storeTimestamp, Map<String, String> properties, byte[] body) {
        this.topic = topic;
        this.queueId = queueId;
        this.queueOffset = queueOffset;
        this.bornTimestamp = bornTimestamp;
        this.storeTimestamp = storeTimestamp;
        this.properties = properties;
        this.body = body;
    }

    public String tags() {
        return properties.get("TAGS");
    }

    /** Decodes every record of a pull response body. */
    static List<RocketMQRecord> decodeAll(byte[] data) throws IOException {
        List<RocketMQRecord> out = new ArrayList<>();
        ByteBuffer buf = ByteBuffer.wrap(data);
        try {
            while (buf.remaining() >= 4) {
                int start = buf.position();
                int total = buf.getInt();
                if (total < 8 || total > buf.remaining() + 4) {
                    throw new IOException("stored record size " + total + " out of range");
                }
                out.add(decode(buf));
                buf.position(start + total);
            }
        } catch (RuntimeException e) {
            throw new IOException("malformed message record in pull response", e);
        }
        return out;
    }

    private static RocketMQRecord decode(ByteBuffer buf) throws IOException {
        int magic = buf.getInt();
        if (magic != MAGIC_V1 && magic != MAGIC_V2) {
            throw new IOException("bad message magic code " + Integer.toHexString(magic));
        }
        buf.getInt(); // body crc
        int queueId = buf.getInt();
        buf.getInt(); // flag
        long queueOffset = buf.getLong();
        buf.getLong(); // physical offset
        int sysFlag = buf.getInt();
        long bornTimestamp = buf.getLong();
        buf.position(buf.position() + ((sysFlag & BORNHOST_V6) != 0 ? 20 : 8));
        long storeTimestamp = buf.getLong();
        buf.position(buf.position() + ((sysFlag & STOREHOST_V6) != 0 ? 20 : 8));
        buf.getInt(); // reconsume times
        buf.getLong(); // prepared transaction offset
        byte[] body = new byte[buf.getInt()];
        buf.get(body);
        int topicLen = magic == MAGIC_V2 ? buf.getShort() & 0xFFFF : buf.get() & 0xFF;
        byte[] topic = new byte[topicLen];
        buf.get(topic);
        byte[] props = new byte[buf.getShort() & 0xFFFF];
        buf.get(props);
        if ((sysFlag & COMPRESSED) != 0) {
            body = inflate(body, (sysFlag & 0x700) >> 8);
        }
        return new RocketMQRecord(new String(topic, StandardCharsets.UTF_8), queueId, queueOffset,
                bornTimestamp, storeTimestamp, parseProperties(new String(props, StandardCharsets.UTF_8)),
                body);
    }

    private static byte[] inflate(byte[] body, int type) throws IOException {
        if (type != 0 && type != 3) {
            throw new IOException("compression type " + type + " is not supported (only zlib)");
        }
        Inflater inflater = new Inflater();
        inflater.setInput(body);
        ByteArrayOutputStream out = new ByteArrayOutputStream(body.length * 4);
        byte[] chunk = new byte[8192];
        try {
            while (!inflater.finished()) {
                int n = inflater.inflate(chunk);
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    throw new IOException("truncated zlib message body");
                }
                out.write(chunk, 0, n);
            }
        } catch (DataFormatException e) {
            throw new IOException("corrupt zlib message body", e);
        } finally {
            inflater.end();
        }
        return out.toByteArray();
    }

    /** Parses {@code name \u0001 value \u0002 ...} (reference §4.3). */
    static Map<String, String> parseProperties(String text) {
        Map<String, String> out = new HashMap<>();
        for (String item : text.split("\u0002")) {
            int sep = item.indexOf('\u0001');
            if (sep > 0 && sep < item.length() - 1) {
                out.put(item.substring(0, sep), item.substring(sep + 1));
            }
        }
        return out;
    }

    static String formatProperties(Map<String, String> props) {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : props.entrySet()) {
            if (e.getValue() != null) {
                sb.append(e.getKey()).append('\u0001').append(e.getValue()).append('\u0002');
            }
        }
        return sb.toString();
    }
}
