package io.percpuref.registry;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Shuts down, after each test (after the class's own {@code @AfterEach} methods), every registry the
 * test added, without waiting. Register it on a field:
 * {@code @RegisterExtension final RegistriesShutDown registries = new RegistriesShutDown();}
 */
final class RegistriesShutDown implements AfterEachCallback {

    private final List<RefRegistry> registries = new ArrayList<>();

    /** Adds {@code registry} to the ones shut down after the test; returns it. */
    RefRegistry add(RefRegistry registry) {
        registries.add(registry);
        return registry;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        try {
            registries.forEach(r -> r.shutdown(Duration.ZERO));
        } finally {
            registries.clear();
        }
    }
}
