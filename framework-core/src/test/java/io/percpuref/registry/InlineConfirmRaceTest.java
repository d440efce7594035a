package io.percpuref.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Adversarial review of the inline confirm (issue 10). {@code ManagedEntry.killIfLive()} decides
 * whether the confirm may run in the killing thread (then {@code RefRegistry.confirmsInline()}) BEFORE
 * {@code ref.kill()}, parks the confirm task, runs {@code registry.killed()} (the {@code onKilled}
 * listeners), and only then runs the parked task inline. A listener with an {@code onConfirmed} of
 * its own that is added in that window (by another thread, or, deterministically, by an
 * {@code onKilled} listener) has its {@code onConfirmed} run in the killing thread, although
 * {@link RefListener#onConfirmed} and docs/registry.md promise "callback executor" for it.
 */
class InlineConfirmRaceTest {

    private static final String CALLBACK_THREAD = "inline-confirm-race-callbacks";

    private final BlockingQueue<Runnable> queued = new LinkedBlockingQueue<>();
    private final RefRegistry registry = RefRegistry.builder().callbackExecutor(queued::add).build();

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
    void anOnConfirmedListenerAddedDuringTheKillStillRunsOnTheCallbackExecutor() throws Exception {
        AtomicReference<String> confirmedOn = new AtomicReference<>();
        RefListener userConfirm = new RefListener() {
            @Override
            public void onConfirmed(RefInfo info) {
                confirmedOn.set(Thread.currentThread().getName());
            }
        };
        registry.addListener(new RefListener() {
            @Override
            public void onKilled(RefInfo info) {
                // e.g. an audit component subscribing on the first kill it sees; another thread's
                // addListener() in the same window has the same effect
                registry.addListener(userConfirm);
            }
        });
        ManagedResource<Object> h = registry.register("late-listener", new Object(), r -> { });

        h.kill();
        String killer = Thread.currentThread().getName();
        runQueuedCallbacks();

        assertThat(confirmedOn.get())
                .as("the user's onConfirmed ran (it was registered before the kill was confirmed)")
                .isNotNull();
        assertThat(confirmedOn.get())
                .as("onConfirmed is user code: callback executor, never the killing thread")
                .isEqualTo(CALLBACK_THREAD)
                .isNotEqualTo(killer);
    }

    /**
     * The same window during {@code shutdown()}: the thread calling shutdown "never runs your code"
     * (docs/registry.md, "Which thread runs your code"), because it owes its caller a deadline. A
     * listener with its own onConfirmed, added by another thread while shutdown() is killing, runs
     * on the shutdown thread, where a slow one delays shutdown(Duration.ZERO) without bound.
     */
    @Test
    void anOnConfirmedListenerAddedDuringShutdownDoesNotRunOnTheShutdownThread() throws Exception {
        AtomicReference<String> confirmedOn = new AtomicReference<>();
        RefListener userConfirm = new RefListener() {
            @Override
            public void onConfirmed(RefInfo info) {
                confirmedOn.set(Thread.currentThread().getName());
            }
        };
        registry.addListener(new RefListener() {
            @Override
            public void onKilled(RefInfo info) {
                // another thread subscribes while the shutdown is killing (joined here only to
                // make the window deterministic)
                Thread subscriber = new Thread(() -> registry.addListener(userConfirm), "subscriber");
                subscriber.start();
                try {
                    subscriber.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        registry.register("shutdown-late-listener", new Object(), r -> { });

        Thread shutdown = new Thread(() -> registry.shutdown(Duration.ZERO), "shutdown-caller");
        shutdown.start();
        shutdown.join();
        // shutdown() passes the deferred confirm to the executor from its hand-off thread, which may
        // not have done so yet when shutdown() returns: run the queue until the confirm has come
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            runQueuedCallbacks();
            assertThat(confirmedOn.get()).as("the user's onConfirmed ran").isNotNull();
        });
        assertThat(confirmedOn.get()).as("never on the thread calling shutdown()").isNotEqualTo("shutdown-caller");
    }
}
