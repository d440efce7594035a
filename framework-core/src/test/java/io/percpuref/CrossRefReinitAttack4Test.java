package io.percpuref;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of 17b5aea (reinit()/resurrect() wait for the whole completion of the old
 * life's released stage, dependents included, unless called by the thread completing it).
 *
 * <p>The completer exemption is per ref. An action chained on ref A's released() stage that
 * starts the next life of another ref B (a parent/child pair: "when A is released, bring B back")
 * now waits for every synchronous action of B's stage; if one of those, on the thread completing
 * B, starts A's next life, it waits for A's actions, which include the first one: a deadlock
 * between two threads neither of which waits for anything but reinit(). Before 17b5aea (wait for
 * the internal stage only, which is done while its dependents run) both reinit() calls returned.
 * The docs only forbid an action that waits for another thread's reinit() of the <i>same</i> ref.
 */
class CrossRefReinitAttack4Test {

    @Test
    @Timeout(20)
    void actionsOnTwoRefsThatReinitEachOtherDoNotDeadlock() throws Exception {
        PercpuRef a = PercpuRef.builder().name("a").allowReinit().onRelease(r -> { }).build();
        PercpuRef b = PercpuRef.builder().name("b").allowReinit().onRelease(r -> { }).build();
        CyclicBarrier bothReleasing = new CyclicBarrier(2);
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        CountDownLatch reinitsReturned = new CountDownLatch(2);
        a.released().thenRun(() -> crossReinit(bothReleasing, b, failures, reinitsReturned));
        b.released().thenRun(() -> crossReinit(bothReleasing, a, failures, reinitsReturned));

        Thread killA = daemon("kill-a", a::kill); // A's release, and its actions, run inline here
        Thread killB = daemon("kill-b", b::kill);
        killA.start();
        killB.start();

        boolean returned = reinitsReturned.await(5, TimeUnit.SECONDS);
        String where = stackOf(killA) + "\n" + stackOf(killB);
        assertThat(failures).isEmpty();
        assertThat(returned)
                .as("a.released().thenRun(b::reinit) and b.released().thenRun(a::reinit), released together,"
                        + " both return; threads now:\n" + where)
                .isTrue();
        assertThat(a.isDying()).isFalse();
        assertThat(b.isDying()).isFalse();
    }

    /**
     * Same cycle through a release callback: B's release callback starts A's next life (allowed:
     * the callback may start another ref's life) while an action of A's stage starts B's.
     */
    @Test
    @Timeout(20)
    void releaseCallbackOfOneRefAndActionOfTheOtherDoNotDeadlock() throws Exception {
        CyclicBarrier bothReleasing = new CyclicBarrier(2);
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        CountDownLatch reinitsReturned = new CountDownLatch(2);
        PercpuRef a = PercpuRef.builder().name("a2").allowReinit().onRelease(r -> { }).build();
        PercpuRef[] aHolder = {a};
        PercpuRef b = PercpuRef.builder().name("b2").allowReinit()
                .onRelease(r -> crossReinit(bothReleasing, aHolder[0], failures, reinitsReturned)).build();
        a.released().thenRun(() -> crossReinit(bothReleasing, b, failures, reinitsReturned));

        Thread killA = daemon("kill-a2", a::kill);
        Thread killB = daemon("kill-b2", b::kill);
        killA.start();
        killB.start();

        boolean returned = reinitsReturned.await(5, TimeUnit.SECONDS);
        String where = stackOf(killA) + "\n" + stackOf(killB);
        assertThat(failures).isEmpty();
        assertThat(returned).as("both reinit() calls return; threads now:\n" + where).isTrue();
    }

    private static void crossReinit(CyclicBarrier barrier, PercpuRef other, List<Throwable> failures,
            CountDownLatch returned) {
        try {
            barrier.await(5, TimeUnit.SECONDS);
            other.reinit();
            returned.countDown();
        } catch (Throwable t) {
            failures.add(t);
        }
    }

    static Thread daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        return t;
    }

    static String stackOf(Thread t) {
        StringBuilder sb = new StringBuilder(t.getName()).append(" ").append(t.getState()).append('\n');
        StackTraceElement[] st = t.getStackTrace();
        for (int i = 0; i < Math.min(st.length, 26); i++) {
            sb.append("    at ").append(st[i]).append('\n');
        }
        return sb.toString();
    }
}
