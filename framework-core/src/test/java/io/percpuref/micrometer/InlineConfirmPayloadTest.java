package io.percpuref.micrometer;

import static org.assertj.core.api.Assertions.assertThat;

import io.percpuref.registry.Lease;
import io.percpuref.registry.ManagedResource;
import io.percpuref.registry.RefInfo;
import io.percpuref.registry.RefListener;
import io.percpuref.registry.RefRegistry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A confirm that runs inline (its listeners are the registry's bookkeeping, such as this package's
 * binder) delivers the same payload as one on the callback executor: a cheap {@link RefInfo} without
 * the open leases, which every listener event but stuck gets. (The inline path once built the full
 * info, holders included, inside the confirm task.) This class lives in {@code io.percpuref.micrometer}
 * because that is what makes a listener's {@code onConfirmed} count as bookkeeping.
 */
class InlineConfirmPayloadTest {

    private final RefRegistry registry = RefRegistry.builder().callbackExecutor(Runnable::run).build();

    @AfterEach
    void shutDown() {
        registry.shutdown(Duration.ZERO);
    }

    @Test
    void anInlineConfirmDeliversTheInfoWithoutOpenLeasesLikeEveryConfirm() {
        AtomicReference<RefInfo> confirmed = new AtomicReference<>();
        AtomicReference<Thread> confirmedOn = new AtomicReference<>();
        registry.addListener(new RefListener() {
            @Override
            public void onConfirmed(RefInfo info) {
                confirmed.set(info);
                confirmedOn.set(Thread.currentThread());
            }
        });
        ManagedResource<Object> r = registry.register("inline-payload", new Object(), x -> { });
        Lease<Object> held = r.acquire();

        r.kill();

        assertThat(confirmedOn.get()).as("confirmed inline, on the killing thread").isSameAs(Thread.currentThread());
        assertThat(confirmed.get().openLeases()).as("the confirm event's info, as on the executor").isEmpty();
        held.close();
    }
}
