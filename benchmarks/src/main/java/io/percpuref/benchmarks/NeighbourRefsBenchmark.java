package io.percpuref.benchmarks;

import io.percpuref.PercpuRef;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jol.vm.VM;

/**
 * False sharing between neighbouring refs: each thread takes and drops references on a ref of its
 * own, nobody shares a ref, so no CAS ever fails and nothing inflates; the only thing the threads
 * share is where their refs lie in the heap. {@code placement=adjacent} builds the refs one after
 * another (as a pool of per-connection refs built in a loop would be: 56 bytes apart, their
 * {@code base} slots in one 128-byte line pair); {@code gap56} and {@code gap96} put 56 or 96 bytes
 * between two refs (112 bytes apart is a ref and its 13-character name, as a copying collector may
 * lay them out); {@code built} builds them in the usual loop, a
 * new builder and name for each (the dead builder and the name lie between two refs);
 * {@code apart} puts 512 bytes between two refs. The ratio apart / adjacent is what sharing a line costs; the same for the
 * {@code AtomicLong} ref count most code uses, whose objects lie 32 bytes apart.
 *
 * <p>The setup prints the distance between the first two refs' addresses (JOL), since a heap may
 * place objects as it likes; the benchmark allocates nothing while it runs, so nothing moves them.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Threads(2)
public class NeighbourRefsBenchmark {

    /** Bytes of garbage between two refs built {@code apart}. */
    static final int GAP = 512;

    /** One ref (and one AtomicLong ref count) per benchmark thread, built adjacent or apart. */
    @State(Scope.Benchmark)
    public static class Refs {
        @Param({"adjacent", "gap56", "gap96", "built", "apart"})
        String placement;

        PercpuRef[] refs;
        AtomicLongRefCount[] counts;
        /** Keeps the gaps alive so that nothing is ever allocated into them. */
        Object[] gaps;
        final AtomicInteger nextThread = new AtomicInteger();

        @Setup(Level.Trial)
        public void build(BenchmarkParams params) {
            int n = params.getThreads();
            // bytes of garbage between two refs: a byte[] with a 16-byte header
            int gap = "apart".equals(placement) ? GAP : placement.startsWith("gap") ? Integer.parseInt(placement.substring(3)) : 0;
            boolean apart = gap > 0;
            String[] names = new String[n];
            for (int i = 0; i < n; i++) {
                names[i] = "neighbour-" + i;
            }
            refs = new PercpuRef[n];
            counts = new AtomicLongRefCount[n];
            gaps = new Object[2 * n];
            PercpuRef.Builder builder = PercpuRef.builder().onRelease(r -> { });
            for (int i = 0; i < n; i++) {
                if ("built".equals(placement)) {
                    // the usual loop: a name and a builder made for each ref, garbage once built
                    refs[i] = PercpuRef.builder().name("neighbour-" + i).onRelease(r -> { }).build();
                } else {
                    refs[i] = builder.name(names[i]).build(); // the builder is reused: only the ref is allocated
                }
                if (apart) {
                    gaps[i] = new byte[gap - 16];
                }
            }
            Runnable noOp = () -> { };
            for (int i = 0; i < n; i++) {
                counts[i] = new AtomicLongRefCount(noOp);
                if (apart) {
                    gaps[n + i] = new byte[gap - 16];
                }
            }
            if (n > 1) {
                System.out.printf("%n%s: refs %d bytes apart, AtomicLong ref counts %d bytes apart%n", placement,
                        VM.current().addressOf(refs[1]) - VM.current().addressOf(refs[0]),
                        VM.current().addressOf(counts[1]) - VM.current().addressOf(counts[0]));
            }
        }
    }

    /** The index of the calling thread's own ref. */
    @State(Scope.Thread)
    public static class Mine {
        int index;

        @Setup(Level.Trial)
        public void pick(Refs refs) {
            index = refs.nextThread.getAndIncrement() % refs.refs.length;
        }
    }

    @Benchmark
    public void percpuRef(Refs refs, Mine mine) {
        PercpuRef ref = refs.refs[mine.index];
        ref.get();
        ref.put();
    }

    @Benchmark
    public void atomicLong(Refs refs, Mine mine) {
        AtomicLongRefCount count = refs.counts[mine.index];
        count.get();
        count.put();
    }
}
