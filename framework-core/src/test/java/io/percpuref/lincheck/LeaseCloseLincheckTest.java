package io.percpuref.lincheck;

import io.percpuref.registry.LeakDetection;
import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefRegistry;
import kotlin.Unit;
import kotlin.reflect.KFunction;
import kotlin.reflect.jvm.ReflectJvmMapping;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.Test;

/**
 * Model checking of a lease's close: the thread that acquired the lease closes it without a CAS
 * (a volatile write of its state, then a volatile read of the others' claim), any other thread
 * claims by CAS and defers to the owner's decision ({@code RefLease}). Lincheck explores the
 * interleavings of those accesses; in every one, exactly one reference must have been put.
 *
 * <p>The resource keeps one other lease open for the whole test, so after the closes exactly one
 * lease must be in flight: a second put of the shared lease shows as zero, a missing put as two.
 */
public class LeaseCloseLincheckTest {

    static final int INVOCATIONS = Math.max(Integer.getInteger("lincheck.invocations", 150), 1_000);

    private final RefRegistry registry = RefRegistry.builder()
            .name("lincheck-lease")
            .callbackExecutor(Runnable::run)
            .leakDetection(LeakDetection.DISABLED)
            .build();
    private final ManagedResource<Object> handle = registry.register("r", new Object(), r -> { });
    private final Lease<Object> other = handle.acquire();
    /** The lease the owner acquired, for the other threads to close; null until then. */
    private volatile Lease<Object> published;

    /** Acquires a lease (this thread is its owner), publishes it, and closes it twice. */
    @Operation
    public int ownerAcquireAndCloseTwice() {
        Lease<Object> lease = handle.acquire();
        published = lease;
        lease.close();
        lease.close();
        return 0;
    }

    /** Closes the published lease twice, if it is published yet. */
    @Operation
    public boolean otherClose() {
        Lease<Object> lease = published;
        if (lease == null) {
            return false;
        }
        lease.close();
        lease.close();
        return true;
    }

    @Validate
    public void exactlyOnePut() {
        long inFlight = handle.info().inFlight();
        if (inFlight != 1) {
            throw new AssertionError(inFlight + " leases in flight after the closes, expected 1 (the other lease): "
                    + "the shared lease was put " + (inFlight == 0 ? "twice" : "not at all"));
        }
    }

    @Test
    void theOwnerAndOneOtherThread() {
        check(2);
    }

    @Test
    void theOwnerAndTwoOtherThreads() {
        check(3);
    }

    private static void check(int threads) {
        new ModelCheckingOptions()
                .iterations(0)
                .invocationsPerIteration(INVOCATIONS)
                .addCustomScenario(scenario -> {
                    scenario.parallel(parallel -> {
                        parallel.thread(owner -> {
                            owner.actor(operation("ownerAcquireAndCloseTwice"));
                            return Unit.INSTANCE;
                        });
                        for (int i = 1; i < threads; i++) {
                            parallel.thread(closer -> {
                                closer.actor(operation("otherClose"));
                                return Unit.INSTANCE;
                            });
                        }
                        return Unit.INSTANCE;
                    });
                    return Unit.INSTANCE;
                })
                .check(LeaseCloseLincheckTest.class);
    }

    private static KFunction<?> operation(String name) {
        try {
            return ReflectJvmMapping.getKotlinFunction(LeaseCloseLincheckTest.class.getMethod(name));
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException("no operation " + name, e);
        }
    }
}
