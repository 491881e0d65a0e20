import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    setupFiles: ["test/setup.ts"],
    // E2E tests share the machine's Nix store and test bridge; files run one at a time.
    // scripts/test.sh runs the two projects below side by side, each in a vitest of its own.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default"],
    projects: [
      // Unit tests touch no shared store, bridge or host.
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      // End-to-end and integration tests: the machine's Nix store, simulated hosts, services.
      { extends: true, test: { name: "shared", include: ["test/e2e/**/*.test.ts", "test/integration/**/*.test.ts"] } },
    ],
  },
});
