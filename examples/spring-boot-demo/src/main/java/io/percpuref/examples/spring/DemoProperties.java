package io.percpuref.examples.spring;

import org.springframework.boot.context.properties.ConfigurationProperties;

import java.nio.file.Path;
import java.time.Duration;

/** Settings of the demo, prefix {@code demo}. */
@ConfigurationProperties("demo")
public class DemoProperties {

    /** Directory for the stores' files; empty: a new temporary directory. */
    private Path dataDir;

    private final CatalogOptions catalog = new CatalogOptions();

    private final ShardOptions shards = new ShardOptions();

    private final LoadOptions load = new LoadOptions();

    public Path getDataDir() {
        return this.dataDir;
    }

    public void setDataDir(Path dataDir) {
        this.dataDir = dataDir;
    }

    public CatalogOptions getCatalog() {
        return this.catalog;
    }

    public ShardOptions getShards() {
        return this.shards;
    }

    public LoadOptions getLoad() {
        return this.load;
    }

    /** The "catalog" store. */
    public static class CatalogOptions {

        /** Simulated I/O latency of an asynchronous read (the lease is held until it completes). */
        private Duration asyncDelay = Duration.ofMillis(20);

        public Duration getAsyncDelay() {
            return this.asyncDelay;
        }

        public void setAsyncDelay(Duration asyncDelay) {
            this.asyncDelay = asyncDelay;
        }
    }

    /** The shards created and killed through the demo API. */
    public static class ShardOptions {

        /** Most shards live or dying at once (each one is a time series with per-ref metrics). */
        private int maxShards = 32;

        /** Longest "slow scan" a request may ask for with holdMillis. */
        private Duration maxHold = Duration.ofSeconds(60);

        public int getMaxShards() {
            return this.maxShards;
        }

        public void setMaxShards(int maxShards) {
            this.maxShards = maxShards;
        }

        public Duration getMaxHold() {
            return this.maxHold;
        }

        public void setMaxHold(Duration maxHold) {
            this.maxHold = maxHold;
        }
    }

    /** The built-in load generator (see {@link LoadGenerator}). */
    public static class LoadOptions {

        /** Whether to run the load generator once the application is ready. */
        private boolean enabled = false;

        /** How long it runs. */
        private Duration duration = Duration.ofMinutes(5);

        /** Most requests it sends (the load stops at whichever limit comes first). */
        private long maxRequests = 200_000;

        /** Concurrent client threads. */
        private int clients = 4;

        /** Pause of each client between two requests. */
        private Duration pause = Duration.ofMillis(20);

        /** Time between two steps of the shard scenario (create, slow scan + kill, create, kill). */
        private Duration shardPeriod = Duration.ofSeconds(5);

        /** How long the slow scan keeps a killed shard dying. */
        private Duration hold = Duration.ofSeconds(4);

        /** Once per run, a slow scan this long, to show a stuck ref (longer than percpu-ref.stuck-threshold); 0: never. */
        private Duration stuckHold = Duration.ofSeconds(15);

        public boolean isEnabled() {
            return this.enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        public Duration getDuration() {
            return this.duration;
        }

        public void setDuration(Duration duration) {
            this.duration = duration;
        }

        public long getMaxRequests() {
            return this.maxRequests;
        }

        public void setMaxRequests(long maxRequests) {
            this.maxRequests = maxRequests;
        }

        public int getClients() {
            return this.clients;
        }

        public void setClients(int clients) {
            this.clients = clients;
        }

        public Duration getPause() {
            return this.pause;
        }

        public void setPause(Duration pause) {
            this.pause = pause;
        }

        public Duration getShardPeriod() {
            return this.shardPeriod;
        }

        public void setShardPeriod(Duration shardPeriod) {
            this.shardPeriod = shardPeriod;
        }

        public Duration getHold() {
            return this.hold;
        }

        public void setHold(Duration hold) {
            this.hold = hold;
        }

        public Duration getStuckHold() {
            return this.stuckHold;
        }

        public void setStuckHold(Duration stuckHold) {
            this.stuckHold = stuckHold;
        }

        /** These settings as the generator's. */
        LoadGenerator.Settings toSettings() {
            return new LoadGenerator.Settings(this.duration, this.maxRequests, this.clients, this.pause,
                    this.shardPeriod, this.hold, this.stuckHold);
        }
    }
}
