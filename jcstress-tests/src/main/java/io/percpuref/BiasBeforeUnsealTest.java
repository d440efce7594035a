package io.percpuref;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.atomic.AtomicInteger;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * The order of the switch back to per-CPU mode: {@code reinit()} (and {@code resurrect()}) must add
 * the bias to the atomic count before any stripe is unsealed. This test lives in package
 * {@code io.percpuref} to inflate the stripe array up front (package-private {@code inflate()}).
 *
 * <p>The ref is inflated, killed and released in the state constructor (count 0, stripes sealed).
 * The owner reinitializes it (count 1, the initial reference). The taker takes two references with
 * {@code tryGet()} and hands them to the putter, which drops both with one {@code put(2)}. With the
 * bias added first, every interleaving is fine. With the stripes unsealed first, the taker's gets
 * could land on its already unsealed stripe while the putter, whose stripe was still sealed, went
 * to the unbiased count: 1 - 2 < 0, and the legitimate {@code put(2)} threw "below zero". That needs
 * the taker's stripe to come before the putter's in the array, which depends on the two actor
 * threads' ids; across a run's threads both orders occur.
 *
 * <p>Outcome {@code (r1, r2, r3, r4)} = (the putter's {@code put(2)} threw, the hand-off happened,
 * releases after the arbiter's kill, error reports).
 *
 * <p><b>FORBIDDEN: {@code r1 = 1}</b> (a legitimate put threw), and any {@code r3} other than 1 or
 * {@code r4} other than 0 (a reference lost or double-counted across the switch).
 */
@JCStressTest
@Outcome(id = "0, 1, 1, 0", expect = ACCEPTABLE, desc = "Hand-off done: put(2) of the taker's references succeeded.")
@Outcome(id = "0, 0, 1, 0", expect = ACCEPTABLE, desc = "No hand-off (taker ran before reinit, or the putter stopped waiting).")
@Outcome(expect = FORBIDDEN, desc = "A legitimate put(2) threw, or the count was wrong after the switch.")
@State
public class BiasBeforeUnsealTest {

    /** How long the putter waits for the hand-off, in spins; jcstress actors must not block. */
    private static final int SPINS = 1 << 14;

    private final AtomicInteger releases = new AtomicInteger();
    private final AtomicInteger reports = new AtomicInteger();
    private final PercpuRef ref = PercpuRef.builder()
            .name("bias-before-unseal")
            .allowReinit()
            .stripes(4)
            .onRelease(r -> releases.incrementAndGet())
            .errorReporter(e -> reports.incrementAndGet())
            .build();
    /** 2 once the taker holds two references for the putter; the putter sets it to 3 when it took them. */
    private volatile int handed;

    public BiasBeforeUnsealTest() {
        ref.inflate();
        ref.kill();
        releases.set(0);
    }

    @Actor
    public void owner() {
        ref.reinit();
    }

    @Actor
    public void taker() {
        if (ref.tryGet()) {
            if (ref.tryGet()) {
                handed = 2;
            } else {
                ref.put();
            }
        }
    }

    @Actor
    public void putter(IIII_Result r) {
        for (int i = 0; i < SPINS && handed != 2; i++) {
            Thread.onSpinWait();
        }
        if (handed == 2) {
            handed = 3;
            r.r2 = 1;
            try {
                ref.put(2);
            } catch (IllegalStateException e) {
                r.r1 = 1;
            }
        }
    }

    @Arbiter
    public void arbiter(IIII_Result r) {
        if (handed == 2) {
            ref.put(2); // the putter stopped waiting: drop the taker's references here
        }
        ref.kill();
        r.r3 = releases.get();
        r.r4 = reports.get();
    }
}
