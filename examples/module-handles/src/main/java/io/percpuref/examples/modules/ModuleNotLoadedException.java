package io.percpuref.examples.modules;

/**
 * No module of that name is loaded: never loaded, or unloaded. What a caller gets when
 * {@code try_module_get} fails and it has no fallback.
 */
public final class ModuleNotLoadedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String moduleName;

    ModuleNotLoadedException(String moduleName) {
        super("module '" + moduleName + "' is not loaded");
        this.moduleName = moduleName;
    }

    /** The module that was asked for. */
    public String moduleName() {
        return moduleName;
    }
}
