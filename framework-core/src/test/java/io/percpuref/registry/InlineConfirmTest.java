package io.percpuref.registry;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.percpuref.PercpuRefException;
import io.percpuref.micrometer.PercpuRefMetrics;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Kill to confirm without a thread hop: when the confirm is only the registry's bookkeeping (no
 * listener with an {@code onConfirmed} of its own; the Micrometer binder's counts as bookkeeping),
 * the kill stage is complete when {@code kill()} returns. User code stays off the killing thread:
 * release actions always, and a user's {@code onConfirmed}, run on the callback executor.
 */
class InlineConfirmTest {

    private static final String CALLBACK_THREAD = "inline-confirm-callbacks";

    private final List<PercpuRefException> reported = new CopyOnWriteArrayList<>();
    /** The callback executor only queues: a task runs when the test says so, on a thread of its own. */
    private final BlockingQueue<Runnable> queued = new LinkedBlockingQueue<>();
    private final RefRegistry registry = RefRegistry.builder()
            .callbackExecutor(queued::add)
            .errorReporter(reported::add)
            .build();

    @AfterEach
    void shutDown() throws InterruptedException {
        registry.shutdown(Duration.ZERO);
        runQueuedCallbacks();
    }

    private void runQueuedCallbacks() throws InterruptedException {
        Thread callbacks = new Thread(() -> {
            for (Runnable task = queued.poll(); task != null; task = queued.poll()) {
                task.run();
            }
        }, CALLBACK_THREAD);
        callbacks.start();
        callbacks.join();
    }

    @Test
    void withoutConfirmListenersTheKillIsConfirmedWhenKillReturnsAndReleaseStillRunsOnTheExecutor()
            throws Exception {
        AtomicReference<String> releasedOn = new AtomicReference<>();
        ManagedResource<Object> h = registry.register("inline", new Object(),
                r -> releasedOn.set(Thread.currentThread().getName()));
        registry.addListener(new RefListener() {
            @Override
            public void onKilled(RefInfo info) {
                // a listener without onConfirmed does not force the hop
            }
        });

        CompletableFuture<Void> confirmed = h.kill().toCompletableFuture();

        assertThat(confirmed).as("confirmed in the killing thread").isDone();
        assertThat(releasedOn).as("the release action is not run by the killing thread").hasValue(null);
        runQueuedCallbacks();
        assertThat(releasedOn).hasValue(CALLBACK_THREAD);
        assertThat(h.state()).isEqualTo(RefState.RELEASED);
        assertThat(reported).isEmpty();
    }

    @Test
    void aLeaseOpenAtTheKillStillDelaysReleaseUntilItCloses() throws Exception {
        ManagedResource<Object> h = registry.register("open-lease", new Object(), r -> { });
        Lease<Object> lease = h.acquire();

        assertThat(h.kill().toCompletableFuture()).isDone();
        assertThat(h.state()).isEqualTo(RefState.DYING);
        assertThat(h.openLeases().count()).as("the initial reference was dropped inline").isEqualTo(1);

        lease.close();
        runQueuedCallbacks();
        assertThat(h.state()).isEqualTo(RefState.RELEASED);
    }

    @Test
    void aUserOnConfirmedStillRunsOnTheCallbackExecutor() throws Exception {
        AtomicReference<String> confirmedOn = new AtomicReference<>();
        registry.addListener(new RefListener() {
            @Override
            public void onConfirmed(RefInfo info) {
                confirmedOn.set(Thread.currentThread().getName());
            }
        });
        ManagedResource<Object> h = registry.register("hop", new Object(), r -> { });

        CompletableFuture<Void> confirmed = h.kill().toCompletableFuture();

        assertThat(confirmed).as("a user's onConfirmed makes the confirm hop").isNotDone();
        runQueuedCallbacks();
        assertThat(confirmed).isDone();
        assertThat(confirmedOn).hasValue(CALLBACK_THREAD);
    }

    @Test
    void theMicrometerBindersConfirmTimerIsBookkeepingAndRecordsTheInlineConfirm() throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        new PercpuRefMetrics(registry).bindTo(meters);
        ManagedResource<Object> h = registry.register("metered", new Object(), r -> { });

        CompletableFuture<Void> confirmed = h.kill().toCompletableFuture();

        assertThat(confirmed).isDone();
        assertThat(meters.get(PercpuRefMetrics.CONFIRM_LATENCY).timer().count()).isEqualTo(1);
        runQueuedCallbacks();
        assertThat(h.state()).isEqualTo(RefState.RELEASED);
    }
}
