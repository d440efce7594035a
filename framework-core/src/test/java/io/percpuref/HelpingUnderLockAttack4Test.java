package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of 17b5aea. released() calls {@code minimalCompletionStage()} on the life's
 * stage <i>while holding the control lock</i>; when that races with the stage's completion,
 * CompletableFuture makes the calling thread help complete the stage (UniRelay.tryFire(SYNC) ->
 * postFire -> postComplete), so it runs other holders' synchronous actions under the lock, and on
 * a thread that is not the Release's completer. If one of them is the documented idiom
 * {@code released().thenRun(ref::reinit)}, that reinit() now waits for the whole completion (the
 * thread is not the completer) - still holding the lock - while the completer thread runs another
 * action that needs the lock (here one that calls released() again, e.g. to re-arm on the next
 * life): a deadlock with no user code waiting for anything.
 */
class HelpingUnderLockAttack4Test {

    @Test
    @Timeout(20)
    void releasedCalledConcurrentlyWithTheCompletionDoesNotDeadlockTheReinitIdiom() throws Exception {
        PercpuRef ref = PercpuRef.builder().name("helping").allowReinit().onRelease(r -> { }).build();
        AtomicBoolean stop = new AtomicBoolean();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> hammers = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Thread h = CrossRefReinitAttack4Test.daemon("released-" + i, () -> {
                while (!stop.get()) {
                    ref.released(); // a monitor or holder taking the current life's stage
                }
            });
            hammers.add(h);
        }
        AtomicReference<String> stuck = new AtomicReference<>();
        AtomicReference<Integer> roundsRun = new AtomicReference<>(0);
        Thread driver = CrossRefReinitAttack4Test.daemon("driver", () -> {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
            int round = 0;
            while (System.nanoTime() < deadline) {
                round++;
                CountDownLatch nextLife = new CountDownLatch(1);
                ref.released().thenRun(() -> { // the idiom, registered first: completed last
                    try {
                        ref.reinit();
                    } catch (Throwable t) {
                        failures.add(t);
                    }
                    nextLife.countDown();
                });
                for (int k = 0; k < 4; k++) {
                    ref.released().thenRun(ref::released); // re-arm on the next life
                }
                ref.kill(); // release and the completion inline here
                try {
                    if (!nextLife.await(2, TimeUnit.SECONDS)) {
                        StringBuilder sb = new StringBuilder("round " + round + ":\n");
                        sb.append(CrossRefReinitAttack4Test.stackOf(Thread.currentThread()));
                        for (Thread h : hammers) {
                            sb.append(CrossRefReinitAttack4Test.stackOf(h));
                        }
                        stuck.set(sb.toString());
                        break;
                    }
                } catch (InterruptedException e) {
                    break;
                }
                roundsRun.set(round);
            }
        });
        hammers.forEach(Thread::start);
        driver.start();
        driver.join(12_000);
        boolean driverStuck = driver.isAlive();
        String driverStack = CrossRefReinitAttack4Test.stackOf(driver);
        StringBuilder hs = new StringBuilder();
        for (Thread h : hammers) {
            hs.append(CrossRefReinitAttack4Test.stackOf(h));
        }
        stop.set(true);
        assertThat(failures).isEmpty();
        assertThat(stuck.get()).as("a life never started again after " + roundsRun.get() + " rounds").isNull();
        assertThat(driverStuck).as("driver stuck after " + roundsRun.get() + " rounds:\n" + driverStack + hs).isFalse();
    }

    static java.util.concurrent.locks.ReentrantLock controlLock(PercpuRef ref) {
        try {
            java.lang.reflect.Field f = PercpuRef.class.getDeclaredField("control");
            f.setAccessible(true);
            return (java.util.concurrent.locks.ReentrantLock) f.get(ref);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * The root cause, without reinit() (so pre-existing, also on 3e1e601): docs/semantics.md says the
     * ref's lock is "never held while user code runs", but a holder's synchronous action on
     * released() can run inside another thread's released() call, under the lock. Seen here as an
     * action that runs holding the ref's lock (Control extends ReentrantLock, read by reflection).
     */
    @Test
    @Timeout(20)
    void noHolderActionRunsUnderTheLock() throws Exception {
        PercpuRef ref = PercpuRef.builder().name("under-lock").allowReinit().onRelease(r -> { }).build();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<String> underLock = new AtomicReference<>();
        List<Thread> hammers = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            hammers.add(CrossRefReinitAttack4Test.daemon("released-" + i, () -> {
                while (!stop.get()) {
                    ref.released();
                }
            }));
        }
        hammers.forEach(Thread::start);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
        int round = 0;
        try {
            while (System.nanoTime() < deadline && underLock.get() == null) {
                round++;
                for (int k = 0; k < 4; k++) {
                    ref.released().thenRun(() -> {
                        if (controlLock(ref).isHeldByCurrentThread()) {
                            underLock.compareAndSet(null, Thread.currentThread().getName()
                                    + " runs a holder's action holding the ref's control lock");
                        }
                    });
                }
                ref.kill();
                ref.reinit();
            }
        } finally {
            stop.set(true);
        }
        assertThat(underLock.get()).as("after " + round + " lives").isNull();
    }
}
