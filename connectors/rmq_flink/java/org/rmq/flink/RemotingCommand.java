package org.rmq.flink;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One RocketMQ remoting frame (reference §1.1): {@code int length | int (serializeType << 24 |
 * headerLen) | header | body}, where length counts everything after itself. Requests are always
 * encoded with a JSON header; responses are decoded from JSON (type 0) or ROCKETMQ binary (type 1)
 * headers. Frames larger than {@link #MAX_FRAME} bytes are refused before they are buffered.
 */
final class RemotingCommand {
    static final int MAX_FRAME = 16 * 1024 * 1024;
    static final int FLAG_RESPONSE = 1;
    static final int FLAG_ONEWAY = 2;
    static final int VERSION = 479; // V5_3_3: the NameServer answers standard JSON route data

    static final ObjectMapper JSON = new ObjectMapper();

    final int code;
    final int flag;
    final int opaque;
    final String remark;
    final Map<String, String> extFields;
    final byte[] body;

    RemotingCommand(int code, int flag, int opaque, String remark, Map<String, String> extFields,
            byte[] body) {
        this.code = code;
        this.flag = flag;
        this.opaque = opaque;
        this.remark = remark;
        this.extFields = extFields == null ? new HashMap<>() : extFields;
        this.body = body;
    }

    static RemotingCommand request(int code, int opaque, Map<String, String> fields, byte[] body) {
        return new RemotingCommand(code, 0, opaque, null, fields, body);
    }

    boolean isResponse() {
        return (flag & FLAG_RESPONSE) != 0;
    }

    String field(String name) {
        return extFields.get(name);
    }

    long longField(String name) throws IOException {
        String value = extFields.get(name);
        if (value == null) {
            throw new IOException("response " + code + " lacks header field " + name);
        }
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new IOException("response header field " + name + " is not a number: " + value);
        }
    }

    byte[] encode() throws IOException {
        ObjectNode header = JSON.createObjectNode();
        header.put("code", code);
        header.put("flag", flag);
        header.put("language", "JAVA");
        header.put("opaque", opaque);
        header.put("serializeTypeCurrentRPC", "JSON");
        header.put("version", VERSION);
        if (remark != null) {
            header.put("remark", remark);
        }
        ObjectNode ext = header.putObject("extFields");
        for (Map.Entry<String, String> e : extFields.entrySet()) {
            if (e.getValue() != null) {
                ext.put(e.getKey(), e.getValue());
            }
        }
        byte[] headerBytes = JSON.writeValueAsBytes(header);
        int bodyLen = body == null ? 0 : body.length;
        ByteBuffer buf = ByteBuffer.allocate(8 + headerBytes.length + bodyLen);
        buf.putInt(4 + headerBytes.length + bodyLen);
        buf.putInt(headerBytes.length & 0xFFFFFF); // serialize type 0 = JSON
        buf.put(headerBytes);
        if (bodyLen > 0) {
            buf.put(body);
        }
        return buf.array();
    }

    /** Reads one whole frame from {@code in} (blocking, subject to the socket's timeout). */
    static RemotingCommand read(InputStream in) throws IOException {
        DataInputStream data = new DataInputStream(in);
        int length = data.readInt();
        if (length < 4 || length > MAX_FRAME) {
            throw new IOException("bad remoting frame length " + length);
        }
        int headerInfo = data.readInt();
        int headerLen = headerInfo & 0xFFFFFF;
        int type = (headerInfo >>> 24) & 0xFF;
        if (headerLen > length - 4) {
            throw new IOException("remoting header length " + headerLen + " exceeds frame " + length);
        }
        byte[] header = new byte[headerLen];
        data.readFully(header);
        byte[] body = new byte[length - 4 - headerLen];
        data.readFully(body);
        if (type == 0) {
            return fromJson(header, body);
        }
        if (type == 1) {
            return fromBinary(header, body);
        }
        throw new IOException("unknown remoting serialize type " + type);
    }

    private static RemotingCommand fromJson(byte[] header, byte[] body) throws IOException {
        JsonNode node = JSON.readTree(header);
        Map<String, String> ext = new HashMap<>();
        JsonNode fields = node.get("extFields");
        if (fields != null && fields.isObject()) {
            Iterator<Map.Entry<String, JsonNode>> it = fields.properties().iterator();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                ext.put(e.getKey(), e.getValue().isNull() ? null : e.getValue().asText());
            }
        }
        JsonNode remark = node.get("remark");
        return new RemotingCommand(node.path("code").asInt(), node.path("flag").asInt(),
                node.path("opaque").asInt(), remark == null || remark.isNull() ? null : remark.asText(),
                ext, body);
    }

    private static RemotingCommand fromBinary(byte[] header, byte[] body) throws IOException {
        try {
            ByteBuffer buf = ByteBuffer.wrap(header);
            int code = buf.getShort();
            buf.get(); // language
            buf.getShort(); // version
            int opaque = buf.getInt();
            int flag = buf.getInt();
            String remark = readString(buf, buf.getInt());
            int extLen = buf.getInt();
            Map<String, String> ext = new HashMap<>();
            int end = buf.position() + extLen;
            while (buf.position() < end) {
                String key = readString(buf, buf.getShort());
                String value = readString(buf, buf.getInt());
                ext.put(key, value);
            }
            return new RemotingCommand(code, flag, opaque, remark, ext, body);
        } catch (RuntimeException e) {
            throw new IOException("malformed ROCKETMQ binary header", e);
        }
    }

    private static String readString(ByteBuffer buf, int len) {
        if (len <= 0) {
            return null;
        }
        byte[] bytes = new byte[len];
        buf.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
