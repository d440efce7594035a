package io.percpuref.benchmarks;

import io.percpuref.PercpuRef;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.concurrent.locks.StampedLock;
import java.util.function.Consumer;
import org.openjdk.jol.info.GraphLayout;

/**
 * Bytes per ref, idle and after contention, for {@link PercpuRef} and the alternatives in
 * {@link GetPutBenchmark}. Prints a Markdown table; {@link Suite} includes it in its summary.
 *
 * <p>Method: JOL's {@link GraphLayout#totalSize()} of everything reachable from one object, minus
 * the callbacks, which real code shares between instances (a non-capturing lambda is one
 * object). Measured idle, after 2 threads ran get/put pairs on the object for
 * {@value #CONTENTION_MILLIS} ms, and after {@value #CONTENDING_THREADS} threads did, which makes a
 * {@code PercpuRef} publish its 2-stripe table (and grow it if collisions persist after moving, up
 * to its stripe cap) or a {@code LongAdder} allocate its cells. The {@code PercpuRef} rows include the ref's name
 * ({@code "aio-ctx-00042"}, a 13-character String), which every ref carries. Caps other than this
 * machine's default are built with {@code stripes(n)}, to show that the 2-thread figure does not
 * depend on the machine (the default cap is twice the CPUs rounded up to a power of two, at most 64).
 *
 * <p>Cross-check: the heap used by {@value #HEAP_DELTA_REFS} idle named refs, after full GCs,
 * divided by their number. Not counted anywhere: the per-thread hold counters a
 * {@link ReentrantReadWriteLock} keeps in its readers' thread-locals.
 */
public final class MemoryFootprint {

    static final int CONTENDING_THREADS = 4;
    static final int CONTENTION_MILLIS = 200;
    static final int HEAP_DELTA_REFS = 100_000;
    /** The targets in the benchmark issue. */
    static final long IDLE_TARGET_BYTES = 256;
    static final long TWO_THREAD_TARGET_BYTES = 512;

    private static final Consumer<PercpuRef> NO_OP = r -> { };
    private static final Runnable NO_OP_RUNNABLE = () -> { };
    private static final GraphLayout SHARED = GraphLayout.parseInstance(NO_OP, NO_OP_RUNNABLE);

    /** One table row: JOL sizes in bytes, idle, after 2 and after {@value #CONTENDING_THREADS} contending threads. */
    record Row(String object, long idleBytes, long twoThreadBytes, long contendedBytes, String note) {
    }

    /** Measured footprint: the JOL rows and the heap-delta cross-check. */
    record Footprint(List<Row> rows, double heapDeltaBytesPerIdleRef) {
    }

    private MemoryFootprint() {
    }

    public static void main(String[] args) throws InterruptedException {
        print(measure(), System.out);
    }

    static Footprint measure() throws InterruptedException {
        int defaultStripes = defaultStripes(Runtime.getRuntime().availableProcessors());
        List<Row> rows = new ArrayList<>();
        rows.add(percpuRef(0, defaultStripes));
        for (int stripes = 8; stripes <= 64; stripes <<= 1) {
            if (stripes != defaultStripes) {
                rows.add(percpuRef(stripes, defaultStripes));
            }
        }
        AtomicLongRefCount atomic = new AtomicLongRefCount(NO_OP_RUNNABLE);
        rows.add(measure("AtomicLong ref count", atomic, () -> {
            atomic.get();
            atomic.put();
        }, ""));
        EvenOddRefCount evenOdd = new EvenOddRefCount(NO_OP_RUNNABLE);
        rows.add(measure("even/odd ref count", evenOdd, () -> {
            evenOdd.get();
            evenOdd.put();
        }, ""));
        LongAdder adder = new LongAdder();
        rows.add(measure("LongAdder", adder, () -> {
            adder.increment();
            adder.decrement();
        }, "cells are @Contended (padded to 128 B), at most one per CPU"));
        ReentrantReadWriteLock rwLock = new ReentrantReadWriteLock();
        rows.add(measure("ReentrantReadWriteLock", rwLock, () -> {
            rwLock.readLock().lock();
            rwLock.readLock().unlock();
        }, "plus per-reader hold counters in thread-locals (not counted)"));
        StampedLock stamped = new StampedLock();
        rows.add(measure("StampedLock", stamped, () -> stamped.unlockRead(stamped.readLock()), ""));
        Semaphore semaphore = new Semaphore(Integer.MAX_VALUE / 2);
        rows.add(measure("Semaphore", semaphore, () -> {
            semaphore.acquireUninterruptibly();
            semaphore.release();
        }, ""));
        return new Footprint(rows, heapDeltaBytesPerIdleRef());
    }

    private static Row percpuRef(int stripes, int defaultStripes) throws InterruptedException {
        PercpuRef.Builder builder = PercpuRef.builder().name("aio-ctx-00042").onRelease(NO_OP);
        if (stripes != 0) {
            builder.stripes(stripes);
        }
        PercpuRef ref = builder.build();
        int shown = stripes != 0 ? stripes : defaultStripes;
        String label = "PercpuRef, cap " + shown + " stripes" + (stripes == 0 ? " (default here)" : "");
        return measure(label, ref, () -> {
            ref.get();
            ref.put();
        }, "default on " + cpusWithDefault(shown));
    }

    private static Row measure(String label, Object object, Runnable pair, String note) throws InterruptedException {
        long idle = bytes(object);
        Contention.run(pair, 2, CONTENTION_MILLIS);
        long two = bytes(object);
        Contention.run(pair, CONTENDING_THREADS, CONTENTION_MILLIS);
        return new Row(label, idle, two, bytes(object), note);
    }

    private static long bytes(Object object) {
        return GraphLayout.parseInstance(object).subtract(SHARED).totalSize();
    }

    private static double heapDeltaBytesPerIdleRef() {
        PercpuRef[] refs = new PercpuRef[HEAP_DELTA_REFS];
        long before = usedHeapAfterGc();
        for (int i = 0; i < refs.length; i++) {
            refs[i] = PercpuRef.builder().name(String.format(Locale.ROOT, "aio-ctx-%05d", i)).onRelease(NO_OP).build();
        }
        long after = usedHeapAfterGc();
        Reference.reachabilityFence(refs);
        return (double) (after - before) / refs.length;
    }

    private static long usedHeapAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** The documented default of {@code PercpuRef.Builder.stripes}: 2 x CPUs rounded up to a power of two, at most 64. */
    static int defaultStripes(int cpus) {
        return Math.min(64, Integer.highestOneBit(Math.max(1, 2 * cpus - 1)) << 1);
    }

    private static String cpusWithDefault(int stripes) {
        int low = 0;
        int high = 0;
        for (int cpus = 1; cpus <= 4096; cpus++) {
            if (defaultStripes(cpus) == stripes) {
                low = low == 0 ? cpus : low;
                high = cpus;
            }
        }
        if (low == 0) {
            return "no machine";
        }
        return high == 4096 ? low + "+ CPUs" : low == high ? low + " CPUs" : low + "-" + high + " CPUs";
    }

    static void print(Footprint footprint, PrintStream out) {
        out.println("| object | idle (B) | after 2 threads (B) | after " + CONTENDING_THREADS + " threads (B) | note |");
        out.println("|---|---:|---:|---:|---|");
        for (Row row : footprint.rows()) {
            out.printf(Locale.ROOT, "| %s | %d | %d | %d | %s |%n",
                    row.object(), row.idleBytes(), row.twoThreadBytes(), row.contendedBytes(), row.note());
        }
        out.printf(Locale.ROOT, "%nHeap delta over %,d idle named PercpuRefs: %.1f bytes per ref.%n",
                HEAP_DELTA_REFS, footprint.heapDeltaBytesPerIdleRef());
    }
}
