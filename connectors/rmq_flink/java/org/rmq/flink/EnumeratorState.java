package org.rmq.flink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * The split enumerator's checkpoint: whether queue discovery has run, and the splits not yet
 * handed to a reader with the subtask each belongs to (splits already assigned live in the
 * readers' state).
 */
final class EnumeratorState {
    final boolean discovered;
    final List<RocketMQSplit> pending;
    final List<Integer> owners;

    EnumeratorState(boolean discovered, List<RocketMQSplit> pending, List<Integer> owners) {
        this.discovered = discovered;
        this.pending = pending;
        this.owners = owners;
    }

    /** Version 1: discovered (boolean), count (int), then per split its owner and the split. */
    static final class Serializer implements SimpleVersionedSerializer<EnumeratorState> {
        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(EnumeratorState state) throws IOException {
            DataOutputSerializer out = new DataOutputSerializer(256);
            out.writeBoolean(state.discovered);
            out.writeInt(state.pending.size());
            for (int i = 0; i < state.pending.size(); i++) {
                out.writeInt(state.owners.get(i));
                state.pending.get(i).write(out);
            }
            return out.getCopyOfBuffer();
        }

        @Override
        public EnumeratorState deserialize(int version, byte[] bytes) throws IOException {
            if (version != 1) {
                throw new IOException("unknown RocketMQ enumerator state version " + version);
            }
            DataInputDeserializer in = new DataInputDeserializer(bytes);
            boolean discovered = in.readBoolean();
            int n = in.readInt();
            List<RocketMQSplit> pending = new ArrayList<>(n);
            List<Integer> owners = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                owners.add(in.readInt());
                pending.add(RocketMQSplit.read(in));
            }
            return new EnumeratorState(discovered, pending, owners);
        }
    }
}
