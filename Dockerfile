FROM node:24-slim
RUN npm i -g pnpm@10.34.9
WORKDIR /app
COPY . .
# Compiles the workspace packages and the API to dist/ (tsc) and builds the console (Vite).
RUN pnpm install --frozen-lockfile && pnpm build
ENV NODE_ENV=production PORT=4000 HOST=0.0.0.0
EXPOSE 4000
WORKDIR /app/apps/api
# The compiled app itself is PID 1 (no pnpm, which exited on SIGTERM and left the app to be SIGKILLed,
# and no tsx loader), so `docker stop` reaches it and it drains: the command the graceful-shutdown test runs.
CMD ["node", "dist/main.js"]
