package io.percpuref.examples.ffm;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.percpuref.ResourceUnavailableException;
import io.percpuref.ffm.ArenaLease;
import io.percpuref.ffm.MappedFileGroup;
import io.percpuref.micrometer.PercpuRefMetrics;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.ShutdownReport;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Queue;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;

/**
 * The example's workload. Generation after generation of files is written to a temporary directory
 * and mapped into one {@link MappedFileGroup} (Lucene's per-segment grouping: an index segment's
 * files in one shared arena). Reader threads lease the current group, read a random 4 KiB block of
 * one of its files and verify every byte against what was written. Every {@code --replace-ms} the
 * main thread publishes a new generation and closes the previous one under the readers:
 * {@code close()} returns at once, the group is unmapped on the registry's callback executor once
 * its last lease closes, and then its files are deleted (no mapping of a deleted file stays behind,
 * the OpenSearch failure mode).
 *
 * <p>Checks, all of which must hold for exit status 0: no wrong byte, no exception other than a
 * refused lease ({@link ResourceUnavailableException}, a reader that picked a generation just being
 * closed, which then retries on the next), every byte of every generation verified (by the readers,
 * or by the main thread's scan of the blocks they missed, just before the close), every closed
 * generation unmapped with its segments failing with the JDK's {@link IllegalStateException}
 * afterwards, no mapping of the directory left in {@code /proc/self/maps}, and a clean registry
 * shutdown.
 */
final class Workload {

    private static final int BLOCK = CliOptions.BLOCK;

    private final CliOptions options;
    private final PrintStream out;
    private final int blocksPerFile;

    /** Blocks read and verified under a lease, by all readers. */
    private final LongAdder reads = new LongAdder();
    /** Leases refused because the generation a reader picked was closed meanwhile. */
    private final LongAdder refused = new LongAdder();
    /** Blocks with a byte that differs from what was written. */
    private final LongAdder mismatches = new LongAdder();
    /** Anything a reader caught other than a refused lease. */
    private final Queue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
    /** The generation readers lease. */
    private final AtomicReference<Generation> current = new AtomicReference<>();
    /** Every generation, in order. */
    private final List<Generation> generations = new ArrayList<>();

    Workload(CliOptions options, PrintStream out) {
        this.options = options;
        this.out = out;
        this.blocksPerFile = options.fileSize() / BLOCK;
    }

    /** One generation: its files, the group they are mapped into, and what happened to it. */
    private final class Generation {
        final int number;
        final Path dir;
        final MappedFileGroup group;
        final MemorySegment[] segments;
        /** 1 at {@code file * blocksPerFile + block} once that block was verified. */
        final AtomicIntegerArray verified;
        final LongAdder reads = new LongAdder();
        /** Blocks the readers had not verified, verified by the main thread before the close. */
        int scanned;
        /** Leases open just before the close (approximate: read while readers come and go). */
        long leasesAtClose;
        long closeNanos = -1;
        volatile long confirmNanos = -1;
        volatile long freedNanos = -1;
        /** Whether a read of a segment after the memory was freed threw IllegalStateException. */
        volatile boolean probeThrewIse;
        /** Lines of /proc/self/maps naming this generation's directory after it was freed; -1 if unknown. */
        volatile long mappingsAfterFree = -1;
        CompletableFuture<Void> done;

        Generation(int number, Path dir, MappedFileGroup group, MemorySegment[] segments) {
            this.number = number;
            this.dir = dir;
            this.group = group;
            this.segments = segments;
            this.verified = new AtomicIntegerArray(segments.length * blocksPerFile);
        }

        long verifiedByReaders() {
            long n = 0;
            for (int i = 0; i < verified.length(); i++) {
                n += verified.get(i);
            }
            return n - scanned;
        }
    }

    /** The byte at {@code offset} of file {@code file} of generation {@code generation}. */
    static byte expected(long seed, int generation, int file, long offset) {
        long x = seed * 0x9E3779B97F4A7C15L + generation * 0xC2B2AE3D27D4EB4FL + file * 0x165667B19E3779F9L
                + (offset >>> 3) * 0x27D4EB2F165667C5L;
        x ^= x >>> 29;
        x *= 0xBF58476D1CE4E5B9L;
        x ^= x >>> 32;
        return (byte) (x >>> ((offset & 7) * 8));
    }

    /**
     * Runs the workload and prints the report.
     *
     * @return whether every check passed
     */
    boolean run() throws IOException, InterruptedException {
        Path root = Files.createTempDirectory(options.dir(), "percpu-ffm-");
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        RefRegistry registry = RefRegistry.builder().name("ffm").build();
        PercpuRefMetrics metrics = new PercpuRefMetrics(registry);
        metrics.bindTo(meters);
        out.printf("percpu-ref FFM example: %d files x %,d bytes per generation, %d reader threads, "
                        + "a new generation every %d ms for %d s;%n", options.files(), options.fileSize(),
                options.readers(), options.replaceMs(), options.seconds());
        out.printf("each generation mapped into one MappedFileGroup; files in %s%n%n", root);
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> readers = new ArrayList<>();
        boolean ok;
        try {
            current.set(open(registry, root, 1));
            for (int r = 0; r < options.readers(); r++) {
                SplittableRandom random = new SplittableRandom(options.seed() * 31 + r);
                Thread t = new Thread(() -> read(random, stop), "reader-" + r);
                readers.add(t);
                t.start();
            }
            long start = System.nanoTime();
            long runNanos = TimeUnit.SECONDS.toNanos(options.seconds());
            try (Progress progress = Progress.start(out, options.progress(), () -> status(start, runNanos))) {
                while (System.nanoTime() - start < runNanos) {
                    Thread.sleep(options.replaceMs());
                    Generation next = open(registry, root, generations.size() + 1);
                    retire(current.getAndSet(next));
                }
                stop.set(true);
                for (Thread t : readers) {
                    t.join();
                }
                retire(current.get());
                awaitFreed();
            }
            ShutdownReport report = registry.shutdown(Duration.ofSeconds(10));
            ok = report(report, meters);
        } finally {
            stop.set(true);
            for (Thread t : readers) {
                t.join();
            }
            metrics.close();
            registry.shutdown(Duration.ofSeconds(10));
            deleteTree(root);
        }
        out.println("removed " + root);
        return ok;
    }

    private Progress.Status status(long start, long runNanos) {
        long freed = generations.stream().filter(g -> g.freedNanos >= 0).count();
        return new Progress.Status(Math.min(System.nanoTime() - start, runNanos), runNanos,
                String.format("generation %d, %,d blocks verified, %,d leases refused, %d generations unmapped",
                        generations.size(), reads.sum(), refused.sum(), freed));
    }

    /** Writes a generation's files, maps them into a new group and returns it (not yet published). */
    private Generation open(RefRegistry registry, Path root, int number) throws IOException {
        Path dir = Files.createDirectory(root.resolve("gen-" + number));
        byte[] bytes = new byte[options.fileSize()];
        MappedFileGroup group = MappedFileGroup.open(registry, "files#" + number);
        MemorySegment[] segments = new MemorySegment[options.files()];
        for (int f = 0; f < segments.length; f++) {
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = expected(options.seed(), number, f, i);
            }
            segments[f] = group.map(Files.write(dir.resolve("file-" + f + ".dat"), bytes));
        }
        Generation g = new Generation(number, dir, group, segments);
        synchronized (generations) {
            generations.add(g);
        }
        return g;
    }

    /** A reader: lease the current generation, verify one random block, close the lease; again. */
    private void read(SplittableRandom random, AtomicBoolean stop) {
        while (!stop.get()) {
            Generation g = current.get();
            int file = random.nextInt(options.files());
            int block = random.nextInt(blocksPerFile);
            try (ArenaLease lease = g.group.acquire()) {
                verify(g, file, block);
                g.reads.increment();
                reads.increment();
            } catch (ResourceUnavailableException closedMeanwhile) {
                refused.increment();
            } catch (Throwable e) {
                unexpected.add(e);
            }
        }
    }

    /** Checks every byte of one block; marks it verified, or counts a mismatch. */
    private void verify(Generation g, int file, int block) {
        MemorySegment segment = g.segments[file];
        long base = (long) block * BLOCK;
        for (int i = 0; i < BLOCK; i++) {
            if (segment.get(ValueLayout.JAVA_BYTE, base + i) != expected(options.seed(), g.number, file, base + i)) {
                mismatches.increment();
                return;
            }
        }
        g.verified.set(file * blocksPerFile + block, 1);
    }

    /**
     * Closes a generation that is no longer published: first verifies, under a lease, the blocks no
     * reader happened to verify, then closes the group (readers may still hold leases on it) and
     * arranges for the checks after its memory is freed.
     */
    private void retire(Generation g) {
        try (ArenaLease lease = g.group.acquire()) {
            for (int i = 0; i < g.verified.length(); i++) {
                if (g.verified.get(i) == 0) {
                    verify(g, i / blocksPerFile, i % blocksPerFile);
                    g.scanned++;
                }
            }
        }
        g.leasesAtClose = g.group.arena().info().inFlight();
        long t0 = System.nanoTime();
        CompletableFuture<Void> confirmed = g.group.kill().toCompletableFuture();
        g.closeNanos = System.nanoTime() - t0;
        confirmed.thenRun(() -> g.confirmNanos = System.nanoTime() - t0);
        g.done = g.group.freed().toCompletableFuture().thenRun(() -> {
            g.freedNanos = System.nanoTime() - t0;
            afterFreed(g);
        });
    }

    /** On the callback executor, once the group is unmapped: probe a segment, count mappings, delete the files. */
    private void afterFreed(Generation g) {
        try {
            g.segments[0].get(ValueLayout.JAVA_BYTE, 0);
        } catch (IllegalStateException expected) {
            g.probeThrewIse = true;
        }
        g.mappingsAfterFree = mappingsOf(g.dir);
        deleteTree(g.dir);
    }

    private void awaitFreed() throws InterruptedException {
        List<CompletableFuture<Void>> done = generations.stream().map(g -> g.done).toList();
        try {
            CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            unexpected.add(e);
        }
    }

    /** Lines of /proc/self/maps that map a file under {@code dir}; -1 where there is no such file. */
    static long mappingsOf(Path dir) {
        Path maps = Path.of("/proc/self/maps");
        if (!Files.isReadable(maps)) {
            return -1;
        }
        try (Stream<String> lines = Files.lines(maps)) {
            String prefix = dir.toRealPath().toString() + "/";
            return lines.filter(line -> line.contains(prefix)).count();
        } catch (IOException e) {
            return -1;
        }
    }

    private boolean report(ShutdownReport shutdown, SimpleMeterRegistry meters) {
        out.println();
        out.println("generations");
        out.printf("  %4s %9s %9s %9s %11s %11s %11s %9s  %s%n", "gen", "reads", "verified", "leases",
                "close()", "kill to", "kill to", "mappings", "segment read");
        out.printf("  %4s %9s %9s %9s %11s %11s %11s %9s  %s%n", "", "", "by readers", "at close",
                "returned", "confirm", "unmapped", "after", "after unmap");
        long blocks = (long) options.files() * blocksPerFile;
        List<Long> close = new ArrayList<>();
        List<Long> confirm = new ArrayList<>();
        List<Long> freed = new ArrayList<>();
        long unmapped = 0;
        long probes = 0;
        long mappingsLeft = 0;
        long allVerified = 0;
        long scanned = 0;
        for (Generation g : generations) {
            out.printf("  %4d %,9d %8d%% %9d %11s %11s %11s %9s  %s%n", g.number, g.reads.sum(),
                    g.verifiedByReaders() * 100 / blocks, g.leasesAtClose, micros(g.closeNanos),
                    micros(g.confirmNanos), micros(g.freedNanos),
                    g.mappingsAfterFree < 0 ? "n/a" : Long.toString(g.mappingsAfterFree),
                    g.probeThrewIse ? "IllegalStateException" : "NOT REFUSED");
            close.add(g.closeNanos);
            confirm.add(g.confirmNanos);
            freed.add(g.freedNanos);
            unmapped += g.freedNanos >= 0 ? 1 : 0;
            probes += g.probeThrewIse ? 1 : 0;
            mappingsLeft += Math.max(0, g.mappingsAfterFree);
            scanned += g.scanned;
            for (int i = 0; i < g.verified.length(); i++) {
                allVerified += g.verified.get(i);
            }
        }
        int n = generations.size();
        out.println();
        out.printf("reads     %,d blocks of %,d bytes read under leases by %d threads, %,d leases refused "
                        + "(generation closed meanwhile; retried on the next), %,d wrong blocks, %d unexpected exceptions%n",
                reads.sum(), BLOCK, options.readers(), refused.sum(), mismatches.sum(), unexpected.size());
        out.printf("bytes     %,d of %,d bytes of %d generations verified (%,d blocks by the readers, %,d missed "
                        + "blocks by a scan under a lease before the close)%n",
                allVerified * BLOCK, blocks * BLOCK * n, n, allVerified - scanned, scanned);
        out.printf("close     close() returned in %s (median %s, max %s); kill to confirm median %s; "
                        + "kill to unmapped median %s, max %s%n",
                micros(min(close)), micros(median(close)), micros(max(close)), micros(median(confirm)),
                micros(median(freed)), micros(max(freed)));
        out.printf("unmapped  %d of %d generations unmapped after their last lease; a read of their segments "
                        + "then threw IllegalStateException %d of %d times; %d mappings of their files left%n",
                unmapped, n, probes, n, mappingsLeft);
        out.println();
        out.println("metrics (PercpuRefMetrics on a Micrometer SimpleMeterRegistry)");
        printMeters(meters);
        for (Throwable t : unexpected.stream().limit(3).toList()) {
            out.println("unexpected: " + t);
        }
        boolean ok = mismatches.sum() == 0 && unexpected.isEmpty() && allVerified == blocks * n && unmapped == n
                && probes == n && mappingsLeft == 0 && shutdown.isClean();
        out.println();
        out.println(ok
                ? "result: OK - every byte verified, every closed generation unmapped after its last lease, nothing left mapped"
                : "result: FAILED - see the lines above" + (shutdown.isClean() ? "" : "\n" + shutdown));
        return ok;
    }

    private void printMeters(SimpleMeterRegistry meters) {
        List<Meter> sorted = new ArrayList<>(meters.getMeters());
        sorted.sort(Comparator.comparing(Workload::describe));
        for (Meter meter : sorted) {
            String value;
            if (meter instanceof Timer t) {
                value = String.format("count %d, mean %.3f ms, max %.3f ms", t.count(),
                        t.mean(TimeUnit.MILLISECONDS), t.max(TimeUnit.MILLISECONDS));
            } else if (meter instanceof Counter c) {
                value = String.format("%.0f", c.count());
            } else if (meter instanceof FunctionCounter c) {
                value = String.format("%.0f", c.count());
            } else if (meter instanceof Gauge g) {
                value = String.format("%.0f", g.value());
            } else {
                continue;
            }
            out.printf("  %-44s %s%n", describe(meter), value);
        }
    }

    private static String describe(Meter meter) {
        StringBuilder s = new StringBuilder(meter.getId().getName()).append('{');
        meter.getId().getTags().forEach(t -> s.append(s.charAt(s.length() - 1) == '{' ? "" : ",")
                .append(t.getKey()).append('=').append(t.getValue()));
        return s.append('}').toString();
    }

    private static long min(List<Long> values) {
        return values.stream().mapToLong(Long::longValue).min().orElse(-1);
    }

    private static long max(List<Long> values) {
        return values.stream().mapToLong(Long::longValue).max().orElse(-1);
    }

    private static long median(List<Long> values) {
        List<Long> sorted = values.stream().sorted().toList();
        return sorted.isEmpty() ? -1 : sorted.get(sorted.size() / 2);
    }

    private static String micros(long nanos) {
        if (nanos < 0) {
            return "-";
        }
        return nanos < 1_000_000 ? String.format("%,.1f us", nanos / 1e3) : String.format("%,.1f ms", nanos / 1e6);
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot delete " + dir, e);
        }
    }
}
