package io.percpuref.examples.spring;

import io.percpuref.registry.RefRegistry;
import io.percpuref.spring.Guarded;
import org.springframework.stereotype.Component;

import java.util.Collections;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A search over the catalog's keys whose index is built on demand, at run time: a resource that is
 * registered ({@value #RESOURCE}) only when {@link #build()} runs. Until then every {@link #find}
 * call is refused ({@code 503} over HTTP), and shows up as
 * {@code percpu_guarded_call_seconds_count{resource="search",outcome="refused"}}; afterwards as
 * {@code outcome="success"}. The demo allows a guarded name that is not registered at startup with
 * {@code percpu-ref.guard.unknown-resource=warn}.
 */
@Component
public class Search {

    /** The resource name. */
    public static final String RESOURCE = "search";

    /** How many catalog keys ({@code key-0} ...) the index covers. */
    static final int KEYS = 16;

    private final Catalog catalog;
    private final RefRegistry registry;
    /** The index, set by {@link #build()} before it registers it: a call whose lease succeeds sees it. */
    private volatile NavigableMap<String, String> index = Collections.emptyNavigableMap();

    Search(Catalog catalog, RefRegistry registry) {
        this.catalog = catalog;
        this.registry = registry;
    }

    /**
     * The catalog keys that start with {@code prefix}, with their values (under a lease on
     * {@value #RESOURCE}, refused until the index is built).
     */
    @Guarded(RESOURCE)
    public NavigableMap<String, String> find(String prefix) {
        return this.index.subMap(prefix, true, prefix + Character.MAX_VALUE, false);
    }

    /**
     * Builds the index from the catalog (guarded calls on "catalog") and registers it.
     *
     * @return whether this call built it ({@code false}: it was built before)
     */
    public boolean build() {
        if (this.registry.find(RESOURCE).isPresent()) {
            return false;
        }
        NavigableMap<String, String> index = new TreeMap<>();
        for (int i = 0; i < KEYS; i++) {
            String key = "key-" + i;
            Optional<String> value = this.catalog.get(key);
            value.ifPresent(v -> index.put(key, v));
        }
        this.index = Collections.unmodifiableNavigableMap(index);
        this.registry.register(RESOURCE, this.index, built -> { });
        return true;
    }
}
