package io.percpuref.examples.aio;

import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.RefRegistry;
import io.percpuref.test.PercpuRefExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** io_setup / io_submit / io_destroy semantics over real files. */
class AioTest {

    private static final int BLOCK = 512;

    @TempDir
    Path dir;

    /** PARANOID: a request that never closes its lease fails the test with the line that acquired it. */
    private final RefRegistry registry = RefRegistry.builder().leakDetection(LeakDetection.PARANOID).build();

    /**
     * Fails a test if a lease taken during it is still open once tearDown has let every request
     * complete: a request that never puts its context reference is an Aio bug.
     */
    @RegisterExtension
    final PercpuRefExtension refs = PercpuRefExtension.watching(registry);
    private final GatedExecutor gated = new GatedExecutor();
    private final ExecutorService pool = Executors.newFixedThreadPool(4);

    @AfterEach
    void tearDown() {
        gated.open();
        registry.shutdown(Duration.ofSeconds(5));
        gated.shutdownNow();
        pool.shutdownNow();
    }

    @Test
    void submitAfterDestroyIsRejectedAsUnknownContext() throws Exception {
        Aio aio = new Aio(registry, pool);
        long ctx = aio.ioSetup(dir.resolve("f"), 8, BLOCK);

        aio.ioDestroy(ctx).toCompletableFuture().join();

        assertThatThrownBy(() -> aio.ioSubmit(ctx, List.of(IoCb.pwrite(0, new byte[BLOCK], e -> { }))))
                .isInstanceOfSatisfying(AioException.class, e -> {
                    assertThat(e.reason()).isEqualTo(AioException.Reason.UNKNOWN_CONTEXT);
                    assertThat(e.reason().errno()).isEqualTo("EINVAL");
                    assertThat(e.contextId()).isEqualTo(ctx);
                });
    }

    @Test
    void contextIdLookupFailsAsSoonAsDestroyReturnsWhileRequestsAreStillInFlight() throws Exception {
        Aio aio = new Aio(registry, gated);
        long ctx = aio.ioSetup(dir.resolve("f"), 8, BLOCK);
        AioContext context = aio.peek(ctx).orElseThrow();
        assertThat(aio.ioSubmit(ctx, writes(4, 0, e -> { }))).isEqualTo(4);

        CompletableFuture<ContextDrain> drain = aio.ioDestroy(ctx).toCompletableFuture();

        assertThat(aio.isPublished(ctx)).isFalse();
        assertThat(aio.peek(ctx)).isEmpty();
        assertThatThrownBy(() -> aio.ioSubmit(ctx, writes(1, 0, e -> { })))
                .isInstanceOfSatisfying(AioException.class,
                        e -> assertThat(e.reason()).isEqualTo(AioException.Reason.UNKNOWN_CONTEXT));
        assertThat(drain).isNotDone();
        assertThat(context.isChannelOpen()).isTrue();
        assertThat(context.inFlight()).isEqualTo(4);
    }

    @Test
    void destroyWithRequestsInFlightClosesTheChannelOnlyAfterTheLastCompletionHandlerRanAndExactlyOnce()
            throws Exception {
        Aio aio = new Aio(registry, gated);
        long ctx = aio.ioSetup(dir.resolve("f"), 16, BLOCK);
        AioContext context = aio.peek(ctx).orElseThrow();
        List<Boolean> channelOpenInHandler = Collections.synchronizedList(new ArrayList<>());
        List<IoEvent> events = Collections.synchronizedList(new ArrayList<>());
        assertThat(aio.ioSubmit(ctx, writes(12, 0, e -> {
            channelOpenInHandler.add(context.isChannelOpen());
            events.add(e);
        }))).isEqualTo(12);

        CompletableFuture<ContextDrain> drain = aio.ioDestroy(ctx).toCompletableFuture();
        await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2)).until(() -> !drain.isDone());
        assertThat(context.isChannelOpen()).isTrue();
        assertThat(context.releaseCount()).isZero();
        assertThat(events).isEmpty();

        gated.open();

        ContextDrain report = drain.get();
        assertThat(events).hasSize(12).allMatch(IoEvent::ok).allMatch(e -> e.res() == BLOCK);
        assertThat(channelOpenInHandler).hasSize(12).containsOnly(true);
        assertThat(context.isChannelOpen()).isFalse();
        assertThat(context.releaseCount()).isEqualTo(1);
        assertThat(context.releaseViolation()).isEmpty();
        assertThat(report.contextId()).isEqualTo(ctx);
        assertThat(report.inFlightAtKill()).isEqualTo(12);
        assertThat(report.requestsCompleted()).isEqualTo(12);
        assertThat(report.drainTime()).isGreaterThanOrEqualTo(Duration.ofMillis(200));
    }

    @Test
    void requestsKeepTheirContextAliveAcrossDestroyAndTheirBytesLand() throws Exception {
        Aio aio = new Aio(registry, gated);
        Path file = dir.resolve("f");
        long ctx = aio.ioSetup(file, 8, BLOCK);
        aio.ioSubmit(ctx, writes(8, 0, e -> { }));
        CompletableFuture<ContextDrain> drain = aio.ioDestroy(ctx).toCompletableFuture();
        gated.open();
        drain.get();

        long reader = aio.ioSetup(file, 8, BLOCK);
        List<byte[]> read = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch done = new CountDownLatch(8);
        List<IoCb> reads = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            long offset = (long) i * BLOCK;
            reads.add(IoCb.pread(offset, new byte[BLOCK], e -> {
                read.add(e.iocb().buffer());
                done.countDown();
            }));
        }
        aio.ioSubmit(reader, reads);
        done.await();

        assertThat(read).hasSize(8);
        for (int i = 0; i < 8; i++) {
            assertThat(reads.get(i).buffer()).isEqualTo(BlockData.of(1, 0, i, BLOCK));
        }
    }

    @Test
    void submitReturnsAShortCountWhenTheEventSlotsRunOutThenRefusesWithEagain() throws Exception {
        Aio aio = new Aio(registry, gated);
        long ctx = aio.ioSetup(dir.resolve("f"), 4, BLOCK);

        assertThat(aio.ioSubmit(ctx, writes(6, 0, e -> { }))).isEqualTo(4);
        assertThatThrownBy(() -> aio.ioSubmit(ctx, writes(1, 4, e -> { })))
                .isInstanceOfSatisfying(AioException.class, e -> {
                    assertThat(e.reason()).isEqualTo(AioException.Reason.RING_FULL);
                    assertThat(e.reason().errno()).isEqualTo("EAGAIN");
                });
    }

    @Test
    void requestLargerThanTheBlockSizeIsRefusedAsBadRequest() throws Exception {
        Aio aio = new Aio(registry, pool);
        long ctx = aio.ioSetup(dir.resolve("f"), 4, BLOCK);

        assertThatThrownBy(() -> aio.ioSubmit(ctx, List.of(IoCb.pwrite(0, new byte[BLOCK + 1], e -> { }))))
                .isInstanceOfSatisfying(AioException.class,
                        e -> assertThat(e.reason()).isEqualTo(AioException.Reason.BAD_REQUEST));
    }

    @Test
    void destroyingTwiceIsRefusedAsUnknownContext() throws Exception {
        Aio aio = new Aio(registry, gated);
        long ctx = aio.ioSetup(dir.resolve("f"), 4, BLOCK);
        aio.ioSubmit(ctx, writes(1, 0, e -> { }));
        aio.ioDestroy(ctx);

        assertThatThrownBy(() -> aio.ioDestroy(ctx))
                .isInstanceOfSatisfying(AioException.class,
                        e -> assertThat(e.reason()).isEqualTo(AioException.Reason.UNKNOWN_CONTEXT));
    }

    @Test
    void submitsRacingDestroyEitherCompleteOrAreRefusedAndTheContextIsReleasedOnce() throws Exception {
        Aio aio = new Aio(registry, pool);
        for (int round = 0; round < 20; round++) {
            long ctx = aio.ioSetup(dir.resolve("race-" + round), 64, BLOCK);
            AioContext context = aio.peek(ctx).orElseThrow();
            LongAdder accepted = new LongAdder();
            LongAdder events = new LongAdder();
            AtomicInteger refusedOther = new AtomicInteger();
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> submitters = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int lane = t;
                Thread thread = new Thread(() -> {
                    for (int i = 0; !stop.get(); i++) {
                        try {
                            long block = (long) lane * 1_000_000 + i % 32;
                            accepted.add(aio.ioSubmit(ctx, List.of(IoCb.pwrite(block * BLOCK, new byte[BLOCK],
                                    e -> events.increment()))));
                        } catch (AioException e) {
                            if (e.reason() == AioException.Reason.RING_FULL) {
                                Thread.onSpinWait();
                            } else if (e.reason() != AioException.Reason.UNKNOWN_CONTEXT
                                    && e.reason() != AioException.Reason.CONTEXT_DYING) {
                                refusedOther.incrementAndGet();
                            }
                        }
                    }
                });
                thread.start();
                submitters.add(thread);
            }
            await().until(() -> accepted.sum() > 50);

            ContextDrain drain = aio.ioDestroy(ctx).toCompletableFuture().get();
            stop.set(true);
            for (Thread t : submitters) {
                t.join();
            }

            assertThat(events.sum()).as("every accepted request completed before the release").isEqualTo(accepted.sum());
            assertThat(drain.requestsCompleted()).isEqualTo(accepted.sum());
            assertThat(refusedOther).hasValue(0);
            assertThat(context.releaseCount()).isEqualTo(1);
            assertThat(context.releaseViolation()).isEmpty();
            assertThat(context.failed()).isZero();
        }
    }

    /** {@code n} writes of blocks {@code first..first+n-1} with the data of file 0, seed 1. */
    private static List<IoCb> writes(int n, int first, Consumer<IoEvent> onEvent) {
        List<IoCb> cbs = new ArrayList<>();
        for (int i = first; i < first + n; i++) {
            cbs.add(IoCb.pwrite((long) i * BLOCK, BlockData.of(1, 0, i, BLOCK), onEvent));
        }
        return cbs;
    }
}
