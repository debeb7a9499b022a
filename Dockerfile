FROM node:24-slim
RUN npm i -g pnpm@10.34.9
WORKDIR /app
COPY . .
RUN pnpm install --frozen-lockfile && pnpm --filter @clipwire/web build
ENV NODE_ENV=production PORT=4000 HOST=0.0.0.0
EXPOSE 4000
WORKDIR /app/apps/api
# The app itself is PID 1 (not pnpm, which exited on SIGTERM and left the app to be SIGKILLed), so
# `docker stop` reaches it and it drains: the command the graceful-shutdown test runs.
CMD ["node", "--import", "tsx", "src/main.ts"]
