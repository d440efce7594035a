package io.percpuref.examples.modules;

/**
 * What a loadable module implements: the host's side of the contract, like the kernel's
 * {@code module_init}/{@code module_exit} and one exported function.
 *
 * <p>A module is a jar whose manifest names it ({@code Module-Name}, {@code Module-Version}) and
 * its class ({@code Module-Class}, public, with a public no-argument constructor). The
 * {@link ModuleTable} loads each jar in its own class loader, whose parent is the host's, so the
 * module sees this interface and the JDK, and nothing of other modules.
 */
public interface LoadableModule {

    /**
     * {@code module_init}: runs once, after the class is loaded and before the module is published.
     * A module whose init throws is not loaded.
     */
    default void init() {
    }

    /**
     * The module's exported function. Called only while the caller holds a reference on the module
     * ({@link ModuleRef}), possibly by many threads at once.
     */
    String call(String argument);

    /**
     * {@code module_exit}: runs once, when the module is unloaded, after the last call into it has
     * returned and before its class loader is closed.
     */
    default void exit() {
    }
}
