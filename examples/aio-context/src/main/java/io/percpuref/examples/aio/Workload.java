package io.percpuref.examples.aio;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.percpuref.micrometer.PercpuRefMetrics;
import io.percpuref.registry.RefRegistry;
import io.percpuref.registry.ShutdownReport;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * The AIO example's workload: several contexts, thousands of real reads and writes, some contexts
 * destroyed while their I/O is in flight, then every written byte read back and checked.
 *
 * <p>Phases:
 * <ol>
 *   <li><b>run</b>: one submitter thread per context ("lane") submits batches of requests, paced at
 *   {@code --rate} and limited to {@code --queue-depth} in flight (it waits for completions, as a
 *   program waits in {@code io_getevents}). Half the requests are writes of fresh blocks, half are
 *   reads of blocks already written, checked on completion. For the {@code --destroy} victims a
 *   destroyer thread calls {@code io_destroy} at a random point while requests are in flight; the
 *   lane keeps submitting and every later request is refused. The other contexts are destroyed
 *   when their lane is done.</li>
 *   <li><b>verify</b>: each file is opened by a fresh context and every block whose write completed
 *   is read back and compared with what was written.</li>
 * </ol>
 *
 * <p>The result checks the product's promises end to end: every accepted request completed
 * (nothing lost), none failed (the channel was never closed under one), every context was
 * released exactly once after its last completion handler, a destroyed context's id was unknown
 * as soon as {@code io_destroy} returned, and the bytes verified equal the bytes written.
 */
final class Workload {

    /** Percentage of requests that are reads of already written blocks. */
    private static final int READ_PERCENT = 50;
    /** How long a destroyer waits for its victim to have I/O in flight before destroying anyway. */
    private static final long IN_FLIGHT_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    /** Upper bound on every wait for releases: a context that does not drain is a bug to report. */
    private static final long DRAIN_TIMEOUT_SECONDS = 60;

    private final CliOptions options;
    private final PrintStream out;
    /** Problems found on the way (each one fails the run). */
    private final List<String> violations = new CopyOnWriteArrayList<>();

    Workload(CliOptions options, PrintStream out) {
        this.options = options;
        this.out = out;
    }

    /** The numbers the summary prints; {@link #ok()} is the verdict. */
    record Result(long requests, long submitted, long completed, long failed, long rejectedUnknown,
                  long rejectedDying, long rejectedOther, long lost, long bytesWritten, long bytesVerified,
                  long bytesCheckedDuringRun, long mismatches, int contextsReleased, boolean shutdownClean,
                  long leaks, List<String> violations) {

        /** Every written byte verified, nothing lost, failed or corrupted, every release correct. */
        boolean ok() {
            return lost == 0 && failed == 0 && rejectedOther == 0 && mismatches == 0
                    && bytesVerified == bytesWritten && shutdownClean && leaks == 0 && violations.isEmpty();
        }
    }

    /** One context and its submitter's state. */
    private static final class Lane {
        final int index;
        final Path file;
        final long ctxId;
        final AioContext context;
        /** Destroyed while in flight, once {@link #destroyAfter} requests have been issued. */
        final boolean victim;
        final int destroyAfter;
        final CountDownLatch destroyPoint = new CountDownLatch(1);
        /** Requests this lane may still have in flight: the queue depth. */
        final Semaphore window;
        final LongAdder issued = new LongAdder();
        final LongAdder submitted = new LongAdder();
        final LongAdder completed = new LongAdder();
        final LongAdder failed = new LongAdder();
        final LongAdder rejectedUnknown = new LongAdder();
        final LongAdder rejectedDying = new LongAdder();
        final LongAdder rejectedOther = new LongAdder();
        final LongAdder bytesWritten = new LongAdder();
        final LongAdder bytesChecked = new LongAdder();
        final LongAdder mismatches = new LongAdder();
        /** Blocks whose write completed, in completion order; guarded by this. */
        private int[] written = new int[64];
        /** Valid entries of {@link #written}; guarded by this. */
        private int writtenCount;
        /** Next block to write; submitter thread only. */
        int nextBlock;
        /** io_destroy's drain stage; set once the context is destroyed. */
        volatile CompletableFuture<ContextDrain> drain;
        /** Requests issued when the destroyer destroyed the context (victims only). */
        volatile long destroyedAt = -1;

        Lane(int index, Path file, long ctxId, AioContext context, boolean victim, int destroyAfter, int depth) {
            this.index = index;
            this.file = file;
            this.ctxId = ctxId;
            this.context = context;
            this.victim = victim;
            this.destroyAfter = destroyAfter;
            this.window = new Semaphore(depth);
        }

        synchronized void markWritten(int block) {
            if (writtenCount == written.length) {
                written = Arrays.copyOf(written, written.length * 2);
            }
            written[writtenCount++] = block;
        }

        synchronized int writtenCount() {
            return writtenCount;
        }

        synchronized int randomWritten(SplittableRandom random) {
            return written[random.nextInt(writtenCount)];
        }

        synchronized int[] writtenBlocks() {
            int[] blocks = Arrays.copyOf(written, writtenCount);
            Arrays.sort(blocks);
            return blocks;
        }

        long rejected() {
            return rejectedUnknown.sum() + rejectedDying.sum() + rejectedOther.sum();
        }
    }

    /**
     * Runs the workload, prints progress, the summary and the metrics to {@code out}, and removes
     * its temporary directory.
     *
     * @throws IOException if the temporary directory or a file cannot be created
     */
    Result run() throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory(options.dir(), "percpu-aio-");
        ExecutorService io = Executors.newFixedThreadPool(options.ioThreads(), daemonThreads("aio-io"));
        RefRegistry registry = RefRegistry.builder().name("aio").build(); // every meter tagged registry=aio
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        new PercpuRefMetrics(registry).bindTo(meters);
        printHeader(dir);
        try (Aio aio = new Aio(registry, io)) { // on an early exit, close() destroys what is left
            List<Lane> lanes = setUp(aio, dir);
            runPhase(aio, lanes);
            long[] verified = verifyPhase(aio, lanes);
            ShutdownReport report = registry.shutdown(Duration.ofSeconds(10));
            Result result = result(lanes, verified, report, registry);
            printSummary(result, lanes, (int) verified[2]);
            out.println();
            out.println("metrics (PercpuRefMetrics on a Micrometer SimpleMeterRegistry)");
            MetricsReport.print(meters, out);
            out.println();
            out.println(result.ok()
                    ? "result: OK - every written byte was read back and verified, nothing lost"
                    : "result: FAILED - " + failureReasons(result));
            return result;
        } finally {
            io.shutdownNow();
            deleteRecursively(dir);
            out.println("removed " + dir);
        }
    }

    private void printHeader(Path dir) {
        out.printf("percpu-ref AIO example: %d contexts x %,d requests of %,d bytes, queue depth %d, batches of %d, %s;%n",
                options.contexts(), options.requests(), options.blockSize(), options.queueDepth(), options.batch(),
                options.rate() == 0 ? "no rate limit" : String.format("%,d requests/s per context", options.rate()));
        out.printf("%d of the %d contexts destroyed while their I/O is in flight; files in %s%n", options.destroy(),
                options.contexts(), dir);
        out.println();
    }

    // ------------------------------------------------------------------------------------------
    // Set-up and the run phase
    // ------------------------------------------------------------------------------------------

    private List<Lane> setUp(Aio aio, Path dir) throws IOException {
        SplittableRandom random = new SplittableRandom(options.seed());
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < options.contexts(); i++) {
            order.add(i);
        }
        // the first `destroy` of a seeded shuffle are the victims
        for (int i = order.size() - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            order.set(j, order.set(i, order.get(j)));
        }
        List<Lane> lanes = new ArrayList<>();
        for (int i = 0; i < options.contexts(); i++) {
            Path file = dir.resolve("ctx-" + (i + 1) + ".dat");
            long id = aio.ioSetup(file, options.queueDepth(), options.blockSize());
            AioContext context = aio.peek(id).orElseThrow();
            boolean victim = order.indexOf(i) < options.destroy();
            // destroy somewhere between 25% and 75% of the lane's requests
            int destroyAfter = Math.max(1, (int) (options.requests() * (0.25 + 0.5 * random.nextDouble())));
            lanes.add(new Lane(i, file, id, context, victim, destroyAfter, options.queueDepth()));
        }
        return lanes;
    }

    private void runPhase(Aio aio, List<Lane> lanes) throws InterruptedException {
        long total = (long) options.contexts() * options.requests();
        List<Thread> submitters = new ArrayList<>();
        List<Thread> destroyers = new ArrayList<>();
        long start = System.nanoTime();
        Progress progress = Progress.start(out, options.progress(), () -> runStatus(lanes, total));
        try {
            for (Lane lane : lanes) {
                submitters.add(thread("aio-submit-" + lane.ctxId, () -> submitAll(aio, lane, start)));
                if (lane.victim) {
                    destroyers.add(thread("aio-destroy-" + lane.ctxId, () -> destroyInFlight(aio, lane)));
                }
            }
            for (Thread t : submitters) {
                t.join();
            }
            for (Thread t : destroyers) {
                t.join();
            }
            for (Lane lane : lanes) {
                if (lane.drain == null) {
                    lane.drain = destroy(aio, lane); // the survivors: destroyed when their lane is done
                }
            }
            awaitDrains(lanes.stream().map(l -> l.drain).toList());
        } finally {
            progress.close();
        }
    }

    private Progress.Status runStatus(List<Lane> lanes, long total) {
        long done = 0;
        long rejected = 0;
        long inFlight = 0;
        int destroyed = 0;
        for (Lane lane : lanes) {
            rejected += lane.rejected();
            done += lane.completed.sum() + lane.failed.sum() + lane.rejected();
            inFlight += lane.context.inFlight();
            destroyed += lane.drain != null ? 1 : 0;
        }
        return new Progress.Status("run", done, total, String.format(
                "%,d/%,d requests  %4d in flight  %d/%d contexts destroyed  %,d rejected",
                done, total, inFlight, destroyed, lanes.size(), rejected));
    }

    /** The lane's submitter: every request is issued; those after the kill are refused. */
    private void submitAll(Aio aio, Lane lane, long startNanos) {
        SplittableRandom random = new SplittableRandom(options.seed() * 31 + lane.index);
        long nanosPerRequest = options.rate() == 0 ? 0 : 1_000_000_000L / options.rate();
        boolean refused = false;
        try {
            for (int issued = 0; issued < options.requests(); ) {
                int n = Math.min(options.batch(), options.requests() - issued);
                if (!refused && nanosPerRequest > 0) {
                    sleepUntil(startNanos + issued * nanosPerRequest);
                }
                lane.window.acquireUninterruptibly(n); // io_getevents: wait for room in the queue
                List<IoCb> batch = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    batch.add(nextRequest(lane, random));
                }
                if (issued + n >= lane.destroyAfter) {
                    // wakes the destroyer before this io_submit, so the kill can land in the middle of it
                    lane.destroyPoint.countDown();
                }
                int started = submitBatch(aio, lane, batch);
                lane.window.release(n - started);
                refused |= started < n;
                issued += n;
                lane.issued.add(n);
            }
        } finally {
            lane.destroyPoint.countDown();
        }
    }

    /** io_submit until the whole batch is in flight or the context refuses; counts the refused. */
    private static int submitBatch(Aio aio, Lane lane, List<IoCb> batch) {
        int started = 0;
        while (started < batch.size()) {
            try {
                int n = aio.ioSubmit(lane.ctxId, batch.subList(started, batch.size()));
                started += n;
                lane.submitted.add(n);
            } catch (AioException e) {
                int rest = batch.size() - started;
                switch (e.reason()) {
                    case UNKNOWN_CONTEXT -> lane.rejectedUnknown.add(rest);
                    case CONTEXT_DYING -> lane.rejectedDying.add(rest);
                    default -> lane.rejectedOther.add(rest);
                }
                break;
            }
        }
        return started;
    }

    private IoCb nextRequest(Lane lane, SplittableRandom random) {
        int blockSize = options.blockSize();
        if (lane.writtenCount() > 0 && random.nextInt(100) < READ_PERCENT) {
            int block = lane.randomWritten(random);
            return IoCb.pread((long) block * blockSize, new byte[blockSize], event -> {
                if (!event.ok()) {
                    lane.failed.increment();
                } else {
                    lane.completed.increment();
                    if (event.res() == blockSize
                            && BlockData.matches(options.seed(), lane.index, block, event.iocb().buffer())) {
                        lane.bytesChecked.add(event.res());
                    } else {
                        lane.mismatches.increment();
                    }
                }
                lane.window.release();
            });
        }
        int block = lane.nextBlock++;
        byte[] data = BlockData.of(options.seed(), lane.index, block, blockSize);
        return IoCb.pwrite((long) block * blockSize, data, event -> {
            if (event.ok() && event.res() == blockSize) {
                lane.completed.increment();
                lane.bytesWritten.add(event.res());
                lane.markWritten(block);
            } else {
                lane.failed.increment();
            }
            lane.window.release();
        });
    }

    /** A victim's destroyer: io_destroy at the lane's destroy point, with requests in flight. */
    private void destroyInFlight(Aio aio, Lane lane) {
        try {
            lane.destroyPoint.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return; // the lane's context is then destroyed at the end, like the survivors'
        }
        long deadline = System.nanoTime() + IN_FLIGHT_WAIT_NANOS;
        while (lane.context.inFlight() == 0 && System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(20_000);
        }
        lane.destroyedAt = lane.issued.sum();
        lane.drain = destroy(aio, lane);
    }

    /** io_destroy, checking that the id is unknown as soon as it returns. */
    private CompletableFuture<ContextDrain> destroy(Aio aio, Lane lane) {
        CompletableFuture<ContextDrain> drain = aio.ioDestroy(lane.ctxId).toCompletableFuture();
        if (aio.isPublished(lane.ctxId)) {
            violations.add("aio context " + lane.ctxId + " was still published after io_destroy returned");
        }
        return drain;
    }

    // ------------------------------------------------------------------------------------------
    // The verify phase
    // ------------------------------------------------------------------------------------------

    /** Reads back every written block through fresh contexts: {verified bytes, mismatches, contexts}. */
    private long[] verifyPhase(Aio aio, List<Lane> lanes) throws IOException, InterruptedException {
        long written = lanes.stream().mapToLong(l -> l.bytesWritten.sum()).sum();
        LongAdder verified = new LongAdder();
        LongAdder mismatches = new LongAdder();
        LongAdder failed = new LongAdder();
        List<CompletableFuture<ContextDrain>> drains = new ArrayList<>();
        List<AioContext> verifiers = new ArrayList<>();
        Progress progress = Progress.start(out, options.progress(), () -> new Progress.Status("verify",
                verified.sum(), written, String.format("%,d/%,d bytes read back and verified", verified.sum(), written)));
        try {
            for (Lane lane : lanes) {
                int[] blocks = lane.writtenBlocks();
                if (blocks.length == 0) {
                    continue;
                }
                long id = aio.ioSetup(lane.file, options.queueDepth(), options.blockSize());
                verifiers.add(aio.peek(id).orElseThrow());
                Semaphore window = new Semaphore(options.queueDepth());
                for (int from = 0; from < blocks.length; from += options.batch()) {
                    int n = Math.min(options.batch(), blocks.length - from);
                    window.acquire(n);
                    List<IoCb> batch = new ArrayList<>(n);
                    for (int i = from; i < from + n; i++) {
                        int block = blocks[i];
                        batch.add(IoCb.pread((long) block * options.blockSize(), new byte[options.blockSize()], event -> {
                            if (!event.ok()) {
                                failed.increment();
                            } else if (event.res() == options.blockSize()
                                    && BlockData.matches(options.seed(), lane.index, block, event.iocb().buffer())) {
                                verified.add(event.res());
                            } else {
                                mismatches.increment();
                            }
                            window.release();
                        }));
                    }
                    for (int started = 0; started < n; ) {
                        started += aio.ioSubmit(id, batch.subList(started, n)); // nobody destroys it meanwhile
                    }
                }
                drains.add(aio.ioDestroy(id).toCompletableFuture()); // destroyed with its reads in flight
            }
            awaitDrains(drains);
        } finally {
            progress.close();
        }
        for (AioContext c : verifiers) {
            c.releaseViolation().ifPresent(violations::add);
        }
        if (failed.sum() > 0) {
            violations.add(failed.sum() + " read-back requests failed");
        }
        return new long[] {verified.sum(), mismatches.sum(), verifiers.size()};
    }

    private static void awaitDrains(List<CompletableFuture<ContextDrain>> drains) throws InterruptedException {
        try {
            CompletableFuture.allOf(drains.toArray(new CompletableFuture<?>[0]))
                    .get(DRAIN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("aio contexts did not drain within " + DRAIN_TIMEOUT_SECONDS + " s", e);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Result and summary
    // ------------------------------------------------------------------------------------------

    private Result result(List<Lane> lanes, long[] verified, ShutdownReport report, RefRegistry registry) {
        long submitted = 0;
        long completed = 0;
        long failed = 0;
        long unknown = 0;
        long dying = 0;
        long other = 0;
        long written = 0;
        long checked = 0;
        long mismatches = verified[1];
        for (Lane lane : lanes) {
            submitted += lane.submitted.sum();
            completed += lane.completed.sum();
            failed += lane.failed.sum();
            unknown += lane.rejectedUnknown.sum();
            dying += lane.rejectedDying.sum();
            other += lane.rejectedOther.sum();
            written += lane.bytesWritten.sum();
            checked += lane.bytesChecked.sum();
            mismatches += lane.mismatches.sum();
            lane.context.releaseViolation().ifPresent(violations::add);
            if (lane.context.releaseCount() != 1) {
                violations.add("aio context " + lane.ctxId + " was released " + lane.context.releaseCount() + " times");
            }
            if (lane.context.callbackFailures() > 0) {
                violations.add("aio context " + lane.ctxId + ": " + lane.context.callbackFailures() + " event callbacks threw");
            }
        }
        int released = lanes.size() + (int) verified[2];
        return new Result((long) options.contexts() * options.requests(), submitted, completed, failed, unknown, dying,
                other, submitted - completed - failed, written, verified[0], checked, mismatches, released,
                report.isClean(), registry.leakCount(), List.copyOf(violations));
    }

    private void printSummary(Result r, List<Lane> lanes, int verifiers) {
        out.println();
        out.println("contexts");
        out.printf("  %4s  %-12s %-19s %10s %10s %10s %10s %10s%n", "id", "file", "fate", "submitted", "completed",
                "rejected", "in flight", "drain");
        out.printf("  %4s  %-12s %-19s %10s %10s %10s %10s %10s%n", "", "", "", "", "", "after kill", "at kill",
                "(kill to release)");
        List<Duration> drainTimes = new ArrayList<>();
        for (Lane lane : lanes) {
            ContextDrain d = lane.drain.join();
            drainTimes.add(d.drainTime());
            String fate = lane.destroyedAt >= 0
                    ? String.format("destroyed at %d%%", lane.destroyedAt * 100 / options.requests())
                    : "destroyed at end";
            out.printf("  %4d  %-12s %-19s %,10d %,10d %,10d %10d %10s%n", lane.ctxId, lane.file.getFileName(), fate,
                    lane.submitted.sum(), lane.completed.sum() + lane.failed.sum(), lane.rejected(),
                    d.inFlightAtKill(), millis(d.drainTime()));
        }
        drainTimes.sort(Comparator.naturalOrder());
        out.println();
        out.printf("requests  %,d issued: %,d completed (%,d failed), %,d rejected after kill"
                        + " (%,d unknown context id, %,d context dying%s), %,d lost%n",
                r.requests(), r.completed() + r.failed(), r.failed(), r.rejectedUnknown() + r.rejectedDying()
                        + r.rejectedOther(), r.rejectedUnknown(), r.rejectedDying(),
                r.rejectedOther() > 0 ? String.format(", %,d other", r.rejectedOther()) : "", r.lost());
        out.printf("drain     kill to release per context: min %s, median %s, max %s%n", millis(drainTimes.get(0)),
                millis(drainTimes.get(drainTimes.size() / 2)), millis(drainTimes.get(drainTimes.size() - 1)));
        out.printf("bytes     %,d written, %,d verified (read back through %d fresh contexts), %,d mismatched blocks;%n"
                        + "          %,d more bytes checked by reads during the run%n",
                r.bytesWritten(), r.bytesVerified(), verifiers, r.mismatches(), r.bytesCheckedDuringRun());
        out.printf("releases  %d contexts released, each exactly once, after its last completion handler%s%n",
                r.contextsReleased(), r.violations().isEmpty() ? "" : " - VIOLATIONS: " + r.violations());
    }

    private static String millis(Duration d) {
        return String.format("%.1f ms", d.toNanos() / 1e6);
    }

    private static String failureReasons(Result r) {
        List<String> reasons = new ArrayList<>(r.violations());
        if (r.lost() != 0) {
            reasons.add(r.lost() + " requests lost");
        }
        if (r.failed() != 0) {
            reasons.add(r.failed() + " requests failed");
        }
        if (r.rejectedOther() != 0) {
            reasons.add(r.rejectedOther() + " requests refused for a reason other than a kill");
        }
        if (r.mismatches() != 0) {
            reasons.add(r.mismatches() + " blocks read back differently");
        }
        if (r.bytesVerified() != r.bytesWritten()) {
            reasons.add("verified " + r.bytesVerified() + " of " + r.bytesWritten() + " bytes written");
        }
        if (!r.shutdownClean()) {
            reasons.add("the registry shutdown left stragglers");
        }
        if (r.leaks() != 0) {
            reasons.add(r.leaks() + " leases leaked");
        }
        return String.join("; ", reasons);
    }

    // ------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------

    private static void sleepUntil(long deadlineNanos) {
        for (long left; (left = deadlineNanos - System.nanoTime()) > 0; ) {
            LockSupport.parkNanos(left);
        }
    }

    /** Starts a daemon thread; a failure in it fails the run instead of vanishing. */
    private Thread thread(String name, Runnable task) {
        Thread t = new Thread(() -> {
            try {
                task.run();
            } catch (RuntimeException | Error e) {
                violations.add("thread " + name + " failed: " + e);
                throw e;
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
